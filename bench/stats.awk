# bench/stats.awk: what bench/run.sh and bench/scale.sh share. readbench
# reads go test -bench lines tagged "P<pass> " into ns[name] (every pass's
# ns/op), pns[name, pass], al[name] (allocs/op) and npass; names lose their
# "Benchmark" prefix (and prefix, a further one) and the -GOMAXPROCS suffix.

# sorted splits the numbers in s into a, sorts them, and returns how many.
function sorted(s, a,    n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n
}

# median returns the median of the numbers in s, "" for none.
function median(s,    a, n) {
	n = sorted(s, a)
	if (n == 0) return ""
	if (n % 2) return a[(n + 1) / 2] + 0
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

# span is the rate of u over s pass by pass (both ran in the same pass,
# next to each other): "median (min–max)", with " tie" when the range
# crosses 1.00.
function span(u, s,    p, rl, ra, n, cell) {
	rl = ""
	for (p = 1; p <= npass; p++)
		if ((u, p) in pns && (s, p) in pns && pns[u, p] > 0) rl = rl " " pns[s, p] / pns[u, p]
	n = sorted(rl, ra)
	if (n == 0) return "–"
	cell = sprintf("%.2f (%.2f–%.2f)", median(rl), ra[1], ra[n])
	if (ra[1] < 1 && ra[n] > 1) cell = cell " tie"
	return cell
}

# readbench reads file (see above).
function readbench(file, prefix,    line, nf, f, pass, name, i) {
	while ((getline line < file) > 0) {
		if (line !~ /^P[0-9]+ Benchmark/) continue
		nf = split(line, f, /[ \t]+/)
		pass = substr(f[1], 2) + 0
		if (pass > npass) npass = pass
		name = f[2]
		sub(/^Benchmark/, "", name)
		if (prefix != "") sub("^" prefix, "", name)
		sub(/-[0-9]+$/, "", name)
		for (i = 3; i < nf; i++) {
			if (f[i + 1] == "ns/op") { ns[name] = ns[name] " " f[i]; pns[name, pass] = f[i] }
			if (f[i + 1] == "allocs/op") al[name] = al[name] " " f[i]
		}
	}
}
