# sweep-random-host-page.gp - random: estimated cycles per access vs host-page (region of interest).
# Written by vmmu; draw again with: gnuplot sweep-random-host-page.gp (in this directory).
# Reads sweep-random-host-page.dat; writes sweep-random-host-page.svg and sweep-random-host-page.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "random: estimated cycles per access vs host-page (region of interest)"
set xlabel "--host-page"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xrange [-0.5:2.5]
set xtics ("4k" 0, "2m" 1, "1g" 2)
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
  set output "sweep-random-host-page." . fmt . suffix
  plot "sweep-random-host-page.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "native", \
       "sweep-random-host-page.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "shadow", \
       "sweep-random-host-page.dat" using 1:5 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "nested", \
       "sweep-random-host-page.dat" using 1:6 with linespoints lw 2 pt 7 lc rgb "#d62728" title "switching", \
       "sweep-random-host-page.dat" using 1:7 with linespoints lw 2 pt 7 lc rgb "#9467bd" title "agile", \
       "sweep-random-host-page.dat" using 1:8 with linespoints lw 2 pt 7 lc rgb "#8c564b" title "pv"
  set output
}
