# compare-exits.gp - VM exits per 1000 accesses, log axis (region of interest; no bar: no exit).
# Written by vmmu; draw again with: gnuplot compare-exits.gp (in this directory).
# Reads compare-exits.dat; writes compare-exits.svg and compare-exits.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set xtics nomirror rotate by -30
set title "VM exits per 1000 accesses, log axis (region of interest; no bar: no exit)"
set ylabel "exits per 1000 accesses"
set logscale y
set yrange [*:*]
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 2060,560 dynamic noenhanced font "sans,10" background "#ffffff"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 2060,560 noenhanced font "sans,10" background "#ffffff"
    } else {
      set terminal png size 2060,560 noenhanced
    }
  }
  set output "compare-exits." . fmt . suffix
  plot "compare-exits.dat" using 2:xtic(1) title "native" lc rgb "#1f77b4", \
       "compare-exits.dat" using 3 title "shadow" lc rgb "#ff7f0e", \
       "compare-exits.dat" using 4 title "nested" lc rgb "#2ca02c", \
       "compare-exits.dat" using 5 title "switching" lc rgb "#d62728", \
       "compare-exits.dat" using 6 title "agile" lc rgb "#9467bd", \
       "compare-exits.dat" using 7 title "pv" lc rgb "#8c564b", \
       "compare-exits.dat" using 8 title "nept" lc rgb "#e377c2", \
       "compare-exits.dat" using 9 title "shadow-on-ept" lc rgb "#7f7f7f", \
       "compare-exits.dat" using 10 title "pvm" lc rgb "#bcbd22", \
       "compare-exits.dat" using 11 title "shadow-on-shadow" lc rgb "#17becf"
  set output
}
