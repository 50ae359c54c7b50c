# sweep-random-pt-place.gp - random: estimated cycles per access vs pt-place (region of interest).
# Written by vmmu; draw again with: gnuplot sweep-random-pt-place.gp (in this directory).
# Reads sweep-random-pt-place.dat; writes sweep-random-pt-place.svg and sweep-random-pt-place.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "random: estimated cycles per access vs pt-place (region of interest)"
set xlabel "--pt-place"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xrange [-0.5:3.5]
set xtics ("first-touch" 0, "interleave" 1, "remote" 2, "replicate" 3)
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
  set output "sweep-random-pt-place." . fmt . suffix
  plot "sweep-random-pt-place.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "native", \
       "sweep-random-pt-place.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "shadow", \
       "sweep-random-pt-place.dat" using 1:5 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "nested"
  set output
}
