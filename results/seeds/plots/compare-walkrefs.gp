# compare-walkrefs.gp - hardware page-walk references per TLB miss and per walk.
# Written by vmmu; draw again with: gnuplot compare-walkrefs.gp (in this directory).
# Reads compare-walkrefs.dat; writes compare-walkrefs.svg and compare-walkrefs.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key top left
set xtics nomirror rotate by -25
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 1100,760 dynamic noenhanced font "sans,10" background "#ffffff"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 1100,760 noenhanced font "sans,10" background "#ffffff"
    } else {
      set terminal png size 1100,760 noenhanced
    }
  }
  set output "compare-walkrefs." . fmt . suffix
  set multiplot layout 2,1 title "Hardware page-walk references (region of interest)"
  set title "walk references per TLB miss: (walk_refs + fault_walk_refs) / tlb_misses"
  set ylabel "references"
  plot "compare-walkrefs.dat" using 2:xtic(1) title "native" lc rgb "#1f77b4", \
       "compare-walkrefs.dat" using 3 title "shadow" lc rgb "#ff7f0e", \
       "compare-walkrefs.dat" using 4 title "nested" lc rgb "#2ca02c", \
       "compare-walkrefs.dat" using 5 title "switching" lc rgb "#d62728", \
       "compare-walkrefs.dat" using 6 title "agile" lc rgb "#9467bd", \
       "compare-walkrefs.dat" using 7 title "pv" lc rgb "#8c564b", \
       "compare-walkrefs.dat" using 8 title "nept" lc rgb "#e377c2", \
       "compare-walkrefs.dat" using 9 title "shadow-on-ept" lc rgb "#7f7f7f", \
       "compare-walkrefs.dat" using 10 title "pvm" lc rgb "#bcbd22", \
       "compare-walkrefs.dat" using 11 title "shadow-on-shadow" lc rgb "#17becf"
  set title "walk references per completed walk: walk_refs / walks"
  set ylabel "references"
  plot "compare-walkrefs.dat" using 12:xtic(1) title "native" lc rgb "#1f77b4", \
       "compare-walkrefs.dat" using 13 title "shadow" lc rgb "#ff7f0e", \
       "compare-walkrefs.dat" using 14 title "nested" lc rgb "#2ca02c", \
       "compare-walkrefs.dat" using 15 title "switching" lc rgb "#d62728", \
       "compare-walkrefs.dat" using 16 title "agile" lc rgb "#9467bd", \
       "compare-walkrefs.dat" using 17 title "pv" lc rgb "#8c564b", \
       "compare-walkrefs.dat" using 18 title "nept" lc rgb "#e377c2", \
       "compare-walkrefs.dat" using 19 title "shadow-on-ept" lc rgb "#7f7f7f", \
       "compare-walkrefs.dat" using 20 title "pvm" lc rgb "#bcbd22", \
       "compare-walkrefs.dat" using 21 title "shadow-on-shadow" lc rgb "#17becf"
  unset multiplot
  set output
}
