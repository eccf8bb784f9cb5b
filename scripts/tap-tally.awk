# Counts the tests of one tape TAP log (scripts/webtorrent-suite.sh and
# scripts/webtorrent-suite-browser.sh): prints "passed failed". A test counts once: failed
# if any assertion under its '# name' header failed, or if the file was stopped before it
# ended (-v stopped=1; tape itself reports a plan not met at exit). A log without tape's
# closing summary ('# tests N') ended in a crash, such as an uncaught exception: the test
# that was running then fails.
/^# tests / { summary = 1 }
/^# (tests|pass|fail|ok)( |$)/ { next }
/^# / { if (name != "") { if (bad) f++; else p++ } name = $0; bad = 0; next }
/^not ok [0-9]+ test exited without ending: / {
  # tape names, at exit, the tests that never started as well
  t = $0; sub(/^not ok [0-9]+ test exited without ending: /, "", t)
  if ("# " t != name) { f++; next } }
/^not ok / { bad = 1 }
END { if (name != "") { if (bad || stopped || !summary) f++; else p++ } print p + 0, f + 0 }
