# sweep-ctxswitch-vpid.gp - ctxswitch: estimated cycles per access vs vpid (region of interest).
# Written by vmmu; draw again with: gnuplot sweep-ctxswitch-vpid.gp (in this directory).
# Reads sweep-ctxswitch-vpid.dat; writes sweep-ctxswitch-vpid.svg and sweep-ctxswitch-vpid.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "ctxswitch: estimated cycles per access vs vpid (region of interest)"
set xlabel "--vpid"
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
  set output "sweep-ctxswitch-vpid." . fmt . suffix
  plot "sweep-ctxswitch-vpid.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "native", \
       "sweep-ctxswitch-vpid.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "shadow", \
       "sweep-ctxswitch-vpid.dat" using 1:5 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "nested", \
       "sweep-ctxswitch-vpid.dat" using 1:6 with linespoints lw 2 pt 7 lc rgb "#d62728" title "switching", \
       "sweep-ctxswitch-vpid.dat" using 1:7 with linespoints lw 2 pt 7 lc rgb "#9467bd" title "agile", \
       "sweep-ctxswitch-vpid.dat" using 1:8 with linespoints lw 2 pt 7 lc rgb "#8c564b" title "pv"
  set output
}
