# R DESeq2 + metafor on the two human studies of the meta example (issue 22): the gene table of
# `bmsc-dge meta` must equal metafor on R DESeq2's per-study results.
#
#   Rscript tests/data/meta/make_reference_de.R      (from the repository root; never in CI)
#
# Per study: DESeq() with defaults on all genes (no prefilter), the condition's reference level first
# (relevel, as bmsc-dge orders a contrast's levels), results(contrast, alpha = 0.05),
# MLE log2FoldChange and lfcSE. Per gene measured (finite LFC and SE) in both studies, matched on
# the Ensembl ID: rma(yi, vi = lfcSE^2, method) for REML, DL and FE -> reference_de_<method>.csv.
suppressMessages({ library(DESeq2); library(metafor) })
here <- "data/example_meta"
out <- "tests/data/meta"
read_counts <- function(study) {
  tab <- read.delim(gzfile(file.path(here, study, "counts.tsv.gz")), check.names = FALSE)
  m <- as.matrix(tab[, -(1:2)]); rownames(m) <- tab$gene_id; m
}
de <- function(study, design, contrast) {
  cts <- read_counts(study)
  cd <- read.delim(file.path(here, study, "samples.tsv"), colClasses = "character")
  rownames(cd) <- cd$sample
  for (v in names(cd)[-1]) cd[[v]] <- factor(cd[[v]])
  cd$condition <- relevel(cd$condition, ref = contrast[3])  # the contrast's reference level first
  dds <- DESeq(DESeqDataSetFromMatrix(cts[, cd$sample], cd, design), quiet = TRUE)
  res <- results(dds, contrast = contrast, alpha = 0.05)
  data.frame(gene = rownames(res), lfc = res$log2FoldChange, se = res$lfcSE)
}
a <- de("patients", ~ condition, c("condition", "T2DM", "control"))
b <- de("high_glucose", ~ donor + condition, c("condition", "HG", "NG"))
both <- merge(a, b, by = "gene", suffixes = c(".patients", ".high_glucose"))
both <- both[is.finite(both$lfc.patients) & is.finite(both$se.patients) &
             is.finite(both$lfc.high_glucose) & is.finite(both$se.high_glucose), ]
write.csv(both, file.path(out, "reference_de_studies.csv"), row.names = FALSE)
for (method in c("REML", "DL", "FE")) {
  rows <- lapply(seq_len(nrow(both)), function(i) {
    y <- c(both$lfc.patients[i], both$lfc.high_glucose[i])
    v <- c(both$se.patients[i], both$se.high_glucose[i])^2
    fit <- tryCatch(suppressWarnings(rma(yi = y, vi = v, method = method)), error = function(e) NULL)
    if (is.null(fit)) return(data.frame(gene = both$gene[i], estimate = NA, se = NA, pval = NA, tau2 = NA, I2 = NA, QEp = NA))
    data.frame(gene = both$gene[i], estimate = fit$beta[1], se = fit$se, pval = fit$pval, tau2 = fit$tau2,
               I2 = fit$I2, QEp = fit$QEp)
  })
  write.csv(do.call(rbind, rows), file.path(out, paste0("reference_de_", method, ".csv")), row.names = FALSE)
}
writeLines(capture.output(sessionInfo()), file.path(out, "sessionInfo_de.txt"))
