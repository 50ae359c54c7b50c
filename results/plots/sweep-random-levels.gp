# sweep-random-levels.gp - random: estimated cycles per access vs levels (whole run (--whole-run)).
# Written by vmmu; draw again with: gnuplot sweep-random-levels.gp (in this directory).
# Reads sweep-random-levels.dat; writes sweep-random-levels.svg and sweep-random-levels.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "random: estimated cycles per access vs levels (whole run (--whole-run))"
set xlabel "--levels"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xtics ("4" 4, "5" 5)
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
  set output "sweep-random-levels." . fmt . suffix
  plot "sweep-random-levels.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "shadow", \
       "sweep-random-levels.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "nested"
  set output
}
