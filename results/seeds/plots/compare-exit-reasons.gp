# compare-exit-reasons.gp - VM exits per 1000 accesses, by reason (region of interest).
# Written by vmmu; draw again with: gnuplot compare-exit-reasons.gp (in this directory).
# Reads compare-exit-reasons.dat; writes compare-exit-reasons.svg and compare-exit-reasons.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.7
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 1320,880 dynamic noenhanced font "sans,10" background "#ffffff"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 1320,880 noenhanced font "sans,10" background "#ffffff"
    } else {
      set terminal png size 1320,880 noenhanced
    }
  }
  set output "compare-exit-reasons." . fmt . suffix
  set multiplot layout 3,4 title "VM exits per 1000 accesses, by reason (region of interest)"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "exits per 1000 accesses"; set title "seq"
  plot "compare-exit-reasons.dat" index 0 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 0 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 0 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 0 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 0 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 0 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 0 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 0 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 0 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 0 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 0 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "random"
  plot "compare-exit-reasons.dat" index 1 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 1 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 1 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 1 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 1 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 1 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 1 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 1 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 1 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 1 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 1 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "ptrchase"
  plot "compare-exit-reasons.dat" index 2 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 2 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 2 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 2 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 2 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 2 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 2 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 2 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 2 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 2 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 2 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "kv"
  plot "compare-exit-reasons.dat" index 3 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 3 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 3 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 3 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 3 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 3 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 3 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 3 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 3 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 3 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 3 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "exits per 1000 accesses"; set title "faults"
  plot "compare-exit-reasons.dat" index 4 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 4 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 4 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 4 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 4 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 4 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 4 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 4 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 4 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 4 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 4 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "fork"
  plot "compare-exit-reasons.dat" index 5 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 5 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 5 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 5 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 5 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 5 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 5 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 5 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 5 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 5 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 5 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "ctxswitch"
  plot "compare-exit-reasons.dat" index 6 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 6 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 6 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 6 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 6 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 6 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 6 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 6 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 6 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 6 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 6 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "mmap-churn"
  plot "compare-exit-reasons.dat" index 7 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 7 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 7 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 7 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 7 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 7 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 7 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 7 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 7 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 7 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 7 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel "exits per 1000 accesses"; set title "procs"
  plot "compare-exit-reasons.dat" index 8 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 8 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 8 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 8 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 8 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 8 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 8 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 8 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 8 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 8 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 8 using 12 notitle lc rgb "#1f77b4"
  set border; set tics; set xtics nomirror; set grid ytics; unset key
  set yrange [0:*]; set ylabel ""; set title "phases"
  plot "compare-exit-reasons.dat" index 9 using 2:xtic(1) notitle lc rgb "#1f77b4", \
       "compare-exit-reasons.dat" index 9 using 3 notitle lc rgb "#ff7f0e", \
       "compare-exit-reasons.dat" index 9 using 4 notitle lc rgb "#2ca02c", \
       "compare-exit-reasons.dat" index 9 using 5 notitle lc rgb "#d62728", \
       "compare-exit-reasons.dat" index 9 using 6 notitle lc rgb "#9467bd", \
       "compare-exit-reasons.dat" index 9 using 7 notitle lc rgb "#8c564b", \
       "compare-exit-reasons.dat" index 9 using 8 notitle lc rgb "#e377c2", \
       "compare-exit-reasons.dat" index 9 using 9 notitle lc rgb "#7f7f7f", \
       "compare-exit-reasons.dat" index 9 using 10 notitle lc rgb "#bcbd22", \
       "compare-exit-reasons.dat" index 9 using 11 notitle lc rgb "#17becf", \
       "compare-exit-reasons.dat" index 9 using 12 notitle lc rgb "#1f77b4"
  unset border; unset tics; unset title; unset grid; set ylabel ""
  set yrange [0:1]; set key center center box
  plot NaN with boxes title "hidden_fault" lc rgb "#1f77b4" fillstyle solid 0.85, NaN with boxes title "pt_write" lc rgb "#ff7f0e" fillstyle solid 0.85, NaN with boxes title "cr3" lc rgb "#2ca02c" fillstyle solid 0.85, NaN with boxes title "invlpg" lc rgb "#d62728" fillstyle solid 0.85, NaN with boxes title "dirty" lc rgb "#9467bd" fillstyle solid 0.85, NaN with boxes title "fault_inject" lc rgb "#8c564b" fillstyle solid 0.85, NaN with boxes title "ept_violation" lc rgb "#e377c2" fillstyle solid 0.85, NaN with boxes title "ept_misconfig" lc rgb "#7f7f7f" fillstyle solid 0.85, NaN with boxes title "l1" lc rgb "#bcbd22" fillstyle solid 0.85, NaN with boxes title "viommu" lc rgb "#17becf" fillstyle solid 0.85, NaN with boxes title "ipi" lc rgb "#1f77b4" fillstyle solid 0.85
  unset multiplot
  set output
}
