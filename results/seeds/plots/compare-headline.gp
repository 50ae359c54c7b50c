# compare-headline.gp - Estimated cycles per access, every workload and mode on one log axis (region of interest; bars: 95% interval over seeds).
# Written by vmmu; draw again with: gnuplot compare-headline.gp (in this directory).
# Reads compare-headline.dat; writes compare-headline.svg and compare-headline.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set style data histograms
set style histogram errorbars lw 1.2 gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set xtics nomirror rotate by -30
set title "Estimated cycles per access, every workload and mode on one log axis (region of interest; bars: 95% interval over seeds)"
set ylabel "cycles per access"
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
  set output "compare-headline." . fmt . suffix
  plot "compare-headline.dat" using 2:3:xtic(1) title "native" lc rgb "#1f77b4", \
       "compare-headline.dat" using 4:5 title "shadow" lc rgb "#ff7f0e", \
       "compare-headline.dat" using 6:7 title "nested" lc rgb "#2ca02c", \
       "compare-headline.dat" using 8:9 title "switching" lc rgb "#d62728", \
       "compare-headline.dat" using 10:11 title "agile" lc rgb "#9467bd", \
       "compare-headline.dat" using 12:13 title "pv" lc rgb "#8c564b", \
       "compare-headline.dat" using 14:15 title "nept" lc rgb "#e377c2", \
       "compare-headline.dat" using 16:17 title "shadow-on-ept" lc rgb "#7f7f7f", \
       "compare-headline.dat" using 18:19 title "pvm" lc rgb "#bcbd22", \
       "compare-headline.dat" using 20:21 title "shadow-on-shadow" lc rgb "#17becf"
  set output
}
