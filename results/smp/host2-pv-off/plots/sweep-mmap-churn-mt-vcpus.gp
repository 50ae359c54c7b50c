# sweep-mmap-churn-mt-vcpus.gp - mmap-churn-mt: estimated cycles per access vs vcpus (whole run).
# Written by vmmu; draw again with: gnuplot sweep-mmap-churn-mt-vcpus.gp (in this directory).
# Reads sweep-mmap-churn-mt-vcpus.dat; writes sweep-mmap-churn-mt-vcpus.svg and sweep-mmap-churn-mt-vcpus.png.
if (!exists("suffix")) suffix = ""
set datafile separator whitespace
set datafile missing "?"
set title "mmap-churn-mt: estimated cycles per access vs vcpus (whole run)"
set xlabel "--vcpus"
set ylabel "cycles per access"
set grid
set key outside right top
set yrange [0:*]
set xtics ("2" 2, "4" 4, "8" 8)
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
  set output "sweep-mmap-churn-mt-vcpus." . fmt . suffix
  plot "sweep-mmap-churn-mt-vcpus.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "nested", \
       "sweep-mmap-churn-mt-vcpus.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "shadow"
  set output
}
