# sweep-faults-ops.gp - faults: estimated cycles per access vs ops (whole run).
# Written by vmmu; draw again with: gnuplot sweep-faults-ops.gp (in this directory).
# Reads sweep-faults-ops.dat; writes sweep-faults-ops.svg and sweep-faults-ops.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "faults: estimated cycles per access vs ops (whole run)"
set xlabel "--ops"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xtics ("32" 32, "64" 64, "128" 128, "256" 256)
set offsets graph 0.03, graph 0.03, 0, 0
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
  set output "sweep-faults-ops." . fmt . suffix
  plot "sweep-faults-ops.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "native", \
       "sweep-faults-ops.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "shadow", \
       "sweep-faults-ops.dat" using 1:5 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "nested", \
       "sweep-faults-ops.dat" using 1:6 with linespoints lw 2 pt 7 lc rgb "#d62728" title "switching", \
       "sweep-faults-ops.dat" using 1:7 with linespoints lw 2 pt 7 lc rgb "#9467bd" title "agile", \
       "sweep-faults-ops.dat" using 1:8 with linespoints lw 2 pt 7 lc rgb "#8c564b" title "pv"
  set output
}
