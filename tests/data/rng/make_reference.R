# R's own draws and loess fits, against which bmsc_dge.deseq2._rrandom and bmsc_dge.deseq2._prior are
# tested. Run once from the repository root: Rscript tests/data/rng/make_reference.R
# (R 4.2.2, Debian bookworm). R is never called at run time or in CI.
here <- "tests/data/rng"
set.seed(2)
writeLines(as.character(.Random.seed), file.path(here, "seed2_state.txt"))
out <- NULL
for (df in 1:3) {
  set.seed(2)
  a <- log(rchisq(2000, df = df)) + rnorm(2000, 0, sqrt(0.5)) - log(df)
  b <- log(rchisq(2000, df = df)) + rnorm(2000, 0, 0) - log(df)
  out <- rbind(out, data.frame(df = df, i = 1:2000, first = sprintf("%.17g", a), second = sprintf("%.17g", b)))
}
write.csv(out, file.path(here, "draws.csv"), row.names = FALSE, quote = FALSE)
set.seed(7)
x <- seq(0, 8, length = 200)
fits <- NULL
for (r in 1:3) {
  y <- sin(x * r / 2) + (x - 3)^2 / 10 + rnorm(200, 0, 0.2)
  f <- predict(loess(y ~ x, span = 0.2), seq(0, 8, length = 1000))
  fits <- rbind(fits, data.frame(rep = r, y = sprintf("%.17g", c(y, rep(NA, 800))), fit = sprintf("%.17g", f)))
}
write.csv(fits, file.path(here, "loess.csv"), row.names = FALSE, quote = FALSE)
