# compare-cycles.gp - Estimated cycles per access, stacked by cost part (region of interest).
# Written by vmmu; draw again with: gnuplot compare-cycles.gp (in this directory).
# Reads compare-cycles.dat; writes compare-cycles.svg and compare-cycles.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.7
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 1320,1720 dynamic noenhanced font "sans,10" background "#ffffff"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 1320,1720 noenhanced font "sans,10" background "#ffffff"
    } else {
      set terminal png size 1320,1720 noenhanced
    }
  }
  set output "compare-cycles." . fmt . suffix
  set multiplot layout 6,4 title "Estimated cycles per access, stacked by cost part (region of interest)"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "cycles per access"; set title "seq"
  plot "compare-cycles.dat" index 0 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 0 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 0 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 0 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 0 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 0 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "random"
  plot "compare-cycles.dat" index 1 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 1 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 1 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 1 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 1 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 1 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "ptrchase"
  plot "compare-cycles.dat" index 2 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 2 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 2 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 2 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 2 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 2 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "kv"
  plot "compare-cycles.dat" index 3 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 3 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 3 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 3 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 3 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 3 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "cycles per access"; set title "faults"
  plot "compare-cycles.dat" index 4 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 4 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 4 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 4 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 4 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 4 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "fork"
  plot "compare-cycles.dat" index 5 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 5 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 5 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 5 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 5 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 5 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "ctxswitch"
  plot "compare-cycles.dat" index 6 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 6 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 6 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 6 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 6 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 6 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "mmap-churn"
  plot "compare-cycles.dat" index 7 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 7 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 7 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 7 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 7 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 7 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "cycles per access"; set title "procs"
  plot "compare-cycles.dat" index 8 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 8 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 8 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 8 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 8 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 8 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "phases"
  plot "compare-cycles.dat" index 9 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 9 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 9 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 9 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 9 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 9 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "dma"
  plot "compare-cycles.dat" index 10 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 10 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 10 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 10 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 10 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 10 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "random-mt"
  plot "compare-cycles.dat" index 11 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 11 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 11 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 11 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 11 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 11 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "cycles per access"; set title "mmap-churn-mt"
  plot "compare-cycles.dat" index 12 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 12 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 12 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 12 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 12 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 12 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "kv-mt"
  plot "compare-cycles.dat" index 13 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 13 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 13 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 13 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 13 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 13 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "fork-mt"
  plot "compare-cycles.dat" index 14 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 14 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 14 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 14 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 14 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 14 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "replay:syscalls"
  plot "compare-cycles.dat" index 15 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 15 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 15 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 15 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 15 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 15 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "cycles per access"; set title "replay:true"
  plot "compare-cycles.dat" index 16 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 16 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 16 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 16 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 16 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 16 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "replay:gcc"
  plot "compare-cycles.dat" index 17 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 17 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 17 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 17 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 17 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 17 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "replay:pipeline"
  plot "compare-cycles.dat" index 18 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 18 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 18 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 18 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 18 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 18 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "replay:python3"
  plot "compare-cycles.dat" index 19 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 19 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 19 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 19 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 19 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 19 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "cycles per access"; set title "replay:sort"
  plot "compare-cycles.dat" index 20 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 20 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 20 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 20 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 20 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 20 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "replay:sqlite3"
  plot "compare-cycles.dat" index 21 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 21 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 21 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 21 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 21 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 21 using 7 notitle lc rgb "#8c564b"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "replay:xz"
  plot "compare-cycles.dat" index 22 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-cycles.dat" index 22 using 3 notitle lc rgb "#ff7f0e", \
       "compare-cycles.dat" index 22 using 4 notitle lc rgb "#2ca02c", \
       "compare-cycles.dat" index 22 using 5 notitle lc rgb "#d62728", \
       "compare-cycles.dat" index 22 using 6 notitle lc rgb "#9467bd", \
       "compare-cycles.dat" index 22 using 7 notitle lc rgb "#8c564b"
  unset border; unset tics; unset title; unset grid; set ylabel ""
  set yrange [0:1]; set key center center box
  plot NaN with boxes title "access" lc rgb "#1f77b4" fillstyle solid 0.85, NaN with boxes title "walk" lc rgb "#ff7f0e" fillstyle solid 0.85, NaN with boxes title "exit" lc rgb "#2ca02c" fillstyle solid 0.85, NaN with boxes title "vmm" lc rgb "#d62728" fillstyle solid 0.85, NaN with boxes title "guest" lc rgb "#9467bd" fillstyle solid 0.85, NaN with boxes title "flush" lc rgb "#8c564b" fillstyle solid 0.85
  unset multiplot
  set output
}
