# metafor references for bmsc-dge's gene-level meta-analysis (issue 22).
#
#   Rscript tests/data/meta/make_reference.R      (from the repository root; R is never called in CI)
#
# For every gene of effects.csv and method REML (rma's default), DL and FE: rma(yi, vi, method)
# with metafor 3.8-1 defaults; estimate, se, zval, pval, tau2, I2, QE, QEp, k and whether rma
# stopped with an error (REML's "Fisher scoring algorithm did not converge") or warned ("may have
# gotten stuck at a local maximum. Setting tau^2 = 0") -> reference_<method>.csv
suppressMessages(library(metafor))
here <- "tests/data/meta"
eff <- read.csv(file.path(here, "effects.csv"))
one <- function(d, method) {
  note <- ""
  fit <- tryCatch(withCallingHandlers(rma(yi = d$yi, vi = d$vi, method = method),
                                      warning = function(w) {
                                        note <<- gsub("\n", " ", conditionMessage(w))
                                        invokeRestart("muffleWarning")
                                      }),
                  error = function(e) conditionMessage(e))
  if (is.character(fit)) {
    return(data.frame(gene = d$gene[1], estimate = NA, se = NA, zval = NA, pval = NA, tau2 = NA, I2 = NA,
                      QE = NA, QEp = NA, k = nrow(d), error = fit, warning = note))
  }
  data.frame(gene = d$gene[1], estimate = fit$beta[1], se = fit$se, zval = fit$zval, pval = fit$pval,
             tau2 = fit$tau2, I2 = fit$I2, QE = fit$QE, QEp = fit$QEp, k = fit$k, error = "", warning = note)
}
for (method in c("REML", "DL", "FE")) {
  out <- do.call(rbind, lapply(split(eff, eff$gene), one, method = method))
  write.csv(out, file.path(here, paste0("reference_", method, ".csv")), row.names = FALSE)
  cat(method, ": errors", sum(out$error != ""), "warnings", sum(out$warning != ""), "\n")
}
writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo.txt"))
