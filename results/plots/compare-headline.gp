# compare-headline.gp - Estimated cycles per access, every workload and mode on one log axis (region of interest).
# Written by vmmu; draw again with: gnuplot compare-headline.gp (in this directory).
# Reads compare-headline.dat; writes compare-headline.svg and compare-headline.png.
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
set title "Estimated cycles per access, every workload and mode on one log axis (region of interest)"
set ylabel "cycles per access"
set logscale y
set yrange [*:*]
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 4400,560 dynamic noenhanced font "sans,10" background "#ffffff"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 4400,560 noenhanced font "sans,10" background "#ffffff"
    } else {
      set terminal png size 4400,560 noenhanced
    }
  }
  set output "compare-headline." . fmt . suffix
  plot "compare-headline.dat" using 2:xtic(1) title "native" lc rgb "#1f77b4", \
       "compare-headline.dat" using 3 title "shadow" lc rgb "#ff7f0e", \
       "compare-headline.dat" using 4 title "nested" lc rgb "#2ca02c", \
       "compare-headline.dat" using 5 title "switching" lc rgb "#d62728", \
       "compare-headline.dat" using 6 title "agile" lc rgb "#9467bd", \
       "compare-headline.dat" using 7 title "pv" lc rgb "#8c564b", \
       "compare-headline.dat" using 8 title "nept" lc rgb "#e377c2", \
       "compare-headline.dat" using 9 title "shadow-on-ept" lc rgb "#7f7f7f", \
       "compare-headline.dat" using 10 title "pvm" lc rgb "#bcbd22", \
       "compare-headline.dat" using 11 title "shadow-on-shadow" lc rgb "#17becf"
  set output
}
