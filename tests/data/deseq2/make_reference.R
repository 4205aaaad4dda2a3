# R DESeq2 reference outputs for the parity tests.
#
#   Rscript tests/data/deseq2/make_reference.R      (from the repository root)
#
# Reads <name>.counts.csv and <name>.coldata.csv, writes <name>.r_results.csv (one row per gene),
# <name>.r_sizefactors.csv and <name>.r_meta.csv; VST for two_group and batch. Default DESeq()
# settings throughout; results() with alpha = 0.05. R is never called at run time or in CI.
suppressMessages(library(DESeq2))
here <- "tests/data/deseq2"

load_dds <- function(name, design, levels) {
  counts <- as.matrix(read.csv(file.path(here, paste0(name, ".counts.csv")), row.names = 1, check.names = FALSE))
  cd <- read.csv(file.path(here, paste0(name, ".coldata.csv")), row.names = 1, stringsAsFactors = FALSE)
  for (v in names(levels)) cd[[v]] <- factor(cd[[v]], levels = levels[[v]])
  DESeqDataSetFromMatrix(counts, cd, design)
}

write_out <- function(dds, res, name) {
  mc <- mcols(dds)
  out <- data.frame(
    gene = rownames(res), baseMean = res$baseMean, log2FoldChange = res$log2FoldChange,
    lfcSE = res$lfcSE, stat = res$stat, pvalue = res$pvalue, padj = res$padj,
    dispGeneEst = mc$dispGeneEst, dispFit = mc$dispFit, dispersion = mc$dispersion,
    dispOutlier = mc$dispOutlier, allZero = mc$allZero,
    replaced = if (is.null(mc$replace)) FALSE else mc$replace,
    maxCooks = if (is.null(mc$maxCooks)) NA else mc$maxCooks
  )
  write.csv(out, file.path(here, paste0(name, ".r_results.csv")), row.names = FALSE)
  write.csv(data.frame(sample = colnames(dds), sizeFactor = sizeFactors(dds)),
            file.path(here, paste0(name, ".r_sizefactors.csv")), row.names = FALSE)
  ft <- metadata(res)$filterThreshold
  meta <- data.frame(
    key = c("R", "DESeq2", "design", "resultsName", "filterThreshold", "filterTheta", "alpha", "test"),
    value = c(R.version.string, as.character(packageVersion("DESeq2")),
              paste(deparse(design(dds)), collapse = ""), res@elementMetadata$description[2],
              ifelse(is.null(ft), NA, unname(ft)), ifelse(is.null(ft), NA, names(ft)),
              0.05, ifelse(is.null(mcols(res)), "", mcols(res)$description[4])))
  write.csv(meta, file.path(here, paste0(name, ".r_meta.csv")), row.names = FALSE)
}

cond <- list(condition = c("control", "T2DM"))

dds <- DESeq(load_dds("two_group", ~ condition, cond), quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "two_group")
vsd <- varianceStabilizingTransformation(dds, blind = TRUE)
write.csv(assay(vsd), file.path(here, "two_group.r_vst.csv"))

dds <- DESeq(load_dds("batch", ~ batch + condition, c(cond, list(batch = c("b1", "b2", "b3")))), quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "batch")
vsd <- varianceStabilizingTransformation(dds, blind = TRUE)
write.csv(assay(vsd), file.path(here, "batch.r_vst.csv"))

# age (mean 70.6 years, SD 9.1) is centred and scaled with scale(), as DESeq2's documentation asks:
# bmsc-dge does the same inside its fit (from the raw ages) and must equal R here; the slope of age
# is reported per year, i.e. R's slope per SD divided by the SD (continuous.r_age.csv).
dds <- load_dds("continuous", ~ age + condition, cond)
age_sd <- sd(dds$age)
dds$age <- as.numeric(scale(dds$age))
dds <- DESeq(dds, quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "continuous")
res <- results(dds, name = "age", alpha = 0.05)
write.csv(data.frame(gene = rownames(res), baseMean = res$baseMean, log2FoldChange = res$log2FoldChange / age_sd,
                     lfcSE = res$lfcSE / age_sd, stat = res$stat, pvalue = res$pvalue, padj = res$padj),
          file.path(here, "continuous.r_age.csv"), row.names = FALSE)

dds <- DESeq(load_dds("lowcount", ~ condition, cond), quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "lowcount")

dds <- DESeq(load_dds("outliers", ~ condition, cond), quiet = TRUE)
write_out(dds, results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05), "outliers")

dds <- DESeq(load_dds("interaction", ~ sex + condition + sex:condition,
                      c(cond, list(sex = c("F", "M")))), quiet = TRUE)
write_out(dds, results(dds, name = "sexM.conditionT2DM", alpha = 0.05), "interaction")

dds <- DESeq(load_dds("lrt", ~ batch + glucose,
                      list(batch = c("b1", "b2"), glucose = c("normal", "high", "very_high"))),
             test = "LRT", reduced = ~ batch, quiet = TRUE)
write_out(dds, results(dds, alpha = 0.05), "lrt")

writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo.txt"))
