# sweep-fork-procs.gp - fork: estimated cycles per access vs procs (whole run).
# Written by vmmu; draw again with: gnuplot sweep-fork-procs.gp (in this directory).
# Reads sweep-fork-procs.dat; writes sweep-fork-procs.svg and sweep-fork-procs.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "fork: estimated cycles per access vs procs (whole run)"
set xlabel "--procs"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xtics ("8" 8, "16" 16, "32" 32, "64" 64, "128" 128)
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 900,540 dynamic noenhanced font "sans,10" background "#ffffff"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 900,540 noenhanced font "sans,10" background "#ffffff"
    } else {
      set terminal png size 900,540 noenhanced
    }
  }
  set output "sweep-fork-procs." . fmt . suffix
  plot "sweep-fork-procs.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "native", \
       "sweep-fork-procs.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "shadow", \
       "sweep-fork-procs.dat" using 1:5 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "nested", \
       "sweep-fork-procs.dat" using 1:6 with linespoints lw 2 pt 7 lc rgb "#d62728" title "switching", \
       "sweep-fork-procs.dat" using 1:7 with linespoints lw 2 pt 7 lc rgb "#9467bd" title "agile", \
       "sweep-fork-procs.dat" using 1:8 with linespoints lw 2 pt 7 lc rgb "#8c564b" title "pv"
  set output
}
