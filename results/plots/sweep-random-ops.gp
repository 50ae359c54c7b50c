# sweep-random-ops.gp - random: estimated cycles per access vs ops (whole run (--whole-run)).
# Written by vmmu; draw again with: gnuplot sweep-random-ops.gp (in this directory).
# Reads sweep-random-ops.dat; writes sweep-random-ops.svg and sweep-random-ops.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "random: estimated cycles per access vs ops (whole run (--whole-run))"
set xlabel "--ops"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xtics ("500000" 500000, "1000000" 1000000, "2000000" 2000000, "3000000" 3000000, "4000000" 4000000, "6000000" 6000000)
set offsets graph 0.03, graph 0.03, 0, 0
set arrow 1 from 3842532.989, graph 0 to 3842532.989, graph 1 nohead dt 2 lw 2 lc rgb "#cc0000"
set label 1 "nested -> shadow" at 3842532.989, graph 0.95 left offset 0.5,0 textcolor rgb "#cc0000"
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
  set output "sweep-random-ops." . fmt . suffix
  plot "sweep-random-ops.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "native", \
       "sweep-random-ops.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "shadow", \
       "sweep-random-ops.dat" using 1:5 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "nested", \
       "sweep-random-ops.dat" using 1:6 with linespoints lw 2 pt 7 lc rgb "#d62728" title "switching", \
       "sweep-random-ops.dat" using 1:7 with linespoints lw 2 pt 7 lc rgb "#9467bd" title "agile", \
       "sweep-random-ops.dat" using 1:8 with linespoints lw 2 pt 7 lc rgb "#8c564b" title "pv"
  set output
}
