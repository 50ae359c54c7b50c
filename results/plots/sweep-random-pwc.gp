# sweep-random-pwc.gp - random: estimated cycles per access vs pwc (region of interest).
# Written by vmmu; draw again with: gnuplot sweep-random-pwc.gp (in this directory).
# Reads sweep-random-pwc.dat; writes sweep-random-pwc.svg and sweep-random-pwc.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "random: estimated cycles per access vs pwc (region of interest)"
set xlabel "--pwc"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xrange [-0.5:1.5]
set xtics ("on" 0, "off" 1)
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
  set output "sweep-random-pwc." . fmt . suffix
  plot "sweep-random-pwc.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "nested"
  set output
}
