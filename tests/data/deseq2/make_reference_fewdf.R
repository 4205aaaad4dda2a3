# R DESeq2 references for shallow, zero-heavy and few-residual-df data, fold-change thresholds and
# poscounts size factors (datasets: make_datasets_fewdf.py).
#
#   Rscript tests/data/deseq2/make_reference_fewdf.R      (from the repository root)
#
# Same outputs as make_reference.R (<name>.r_results.csv, .r_sizefactors.csv, .r_meta.csv); the meta
# file also records dispPriorVar. sex_3v3 adds <name>.r_threshold_<altHypothesis>.csv for
# results(lfcThreshold = log2(1.5), altHypothesis = ...). R is never called at run time or in CI.
suppressMessages(library(DESeq2))
here <- "tests/data/deseq2"

load_dds <- function(name, design, levels) {
  counts <- as.matrix(read.csv(file.path(here, paste0(name, ".counts.csv")), row.names = 1, check.names = FALSE))
  cd <- read.csv(file.path(here, paste0(name, ".coldata.csv")), row.names = 1, stringsAsFactors = FALSE)
  for (v in names(levels)) cd[[v]] <- factor(cd[[v]], levels = levels[[v]])
  DESeqDataSetFromMatrix(counts, cd, design)
}

table_of <- function(dds, res) {
  mc <- mcols(dds)
  data.frame(
    gene = rownames(res), baseMean = res$baseMean, log2FoldChange = res$log2FoldChange,
    lfcSE = res$lfcSE, stat = res$stat, pvalue = res$pvalue, padj = res$padj,
    dispGeneEst = mc$dispGeneEst, dispFit = mc$dispFit, dispersion = mc$dispersion,
    dispOutlier = mc$dispOutlier, allZero = mc$allZero,
    replaced = if (is.null(mc$replace)) FALSE else mc$replace,
    maxCooks = if (is.null(mc$maxCooks)) NA else mc$maxCooks
  )
}

write_out <- function(dds, res, name) {
  write.csv(table_of(dds, res), file.path(here, paste0(name, ".r_results.csv")), row.names = FALSE)
  write.csv(data.frame(sample = colnames(dds), sizeFactor = sizeFactors(dds)),
            file.path(here, paste0(name, ".r_sizefactors.csv")), row.names = FALSE)
  ft <- metadata(res)$filterThreshold
  meta <- data.frame(
    key = c("R", "DESeq2", "design", "resultsName", "filterThreshold", "filterTheta", "alpha", "test",
            "dispPriorVar", "residualDf"),
    value = c(R.version.string, as.character(packageVersion("DESeq2")),
              paste(deparse(design(dds)), collapse = ""), res@elementMetadata$description[2],
              ifelse(is.null(ft), NA, unname(ft)), ifelse(is.null(ft), NA, names(ft)),
              0.05, "Wald", attr(dispersionFunction(dds), "dispPriorVar"),
              ncol(dds) - ncol(model.matrix(design(dds), as.data.frame(colData(dds))))))
  write.csv(meta, file.path(here, paste0(name, ".r_meta.csv")), row.names = FALSE)
}

cond <- list(condition = c("control", "T2DM"))

dds <- DESeq(load_dds("shallow_donor", ~ donor + status,
                      list(donor = c("d1", "d2", "d3"), status = c("undiff", "osteo"))), quiet = TRUE)
write_out(dds, results(dds, contrast = c("status", "osteo", "undiff"), alpha = 0.05), "shallow_donor")

dds <- DESeq(load_dds("shallow_two", ~ condition, cond), quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "shallow_two")

dds <- DESeq(load_dds("sex_3v3", ~ sex + condition, c(cond, list(sex = c("F", "M")))), quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "sex_3v3")
for (alt in c("greaterAbs", "lessAbs", "greater", "less")) {
  res <- results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05,
                 lfcThreshold = log2(1.5), altHypothesis = alt)
  out <- table_of(dds, res)
  out$filterThreshold <- ifelse(is.null(metadata(res)$filterThreshold), NA, unname(metadata(res)$filterThreshold))
  write.csv(out, file.path(here, paste0("sex_3v3.r_threshold_", alt, ".csv")), row.names = FALSE)
}

dds <- DESeq(load_dds("one_df", ~ batch + condition, c(cond, list(batch = c("b1", "b2")))), quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "one_df")

dds <- load_dds("poscounts", ~ condition, cond)
dds <- estimateSizeFactors(dds, type = "poscounts")
dds <- DESeq(dds, quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "poscounts")

writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo_fewdf.txt"))
