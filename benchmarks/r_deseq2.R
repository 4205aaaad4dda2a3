# R DESeq2 alone on the bundled example (for the benchmark's reference row; never run by CI):
#   Rscript benchmarks/r_deseq2.R data/example/counts.tsv.gz data/example/samples.tsv
# Same design, prefilter-free (DESeq2's own handling of all-zero genes), Wald test, results()
# with independent filtering, lfcShrink(type = "normal") (apeglm is not installable here), and
# the results table written to a temporary TSV.
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
counts <- read.delim(gzfile(args[1]), check.names = FALSE)
samples <- read.delim(args[2], row.names = 1, stringsAsFactors = TRUE)
mat <- as.matrix(counts[, rownames(samples)])
rownames(mat) <- counts$gene_id
samples$condition <- relevel(samples$condition, ref = "control")
dds <- DESeqDataSetFromMatrix(mat, samples, design = ~ batch + sex + condition)
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, name = "condition_T2DM_vs_control", alpha = 0.05)
shr <- lfcShrink(dds, coef = "condition_T2DM_vs_control", type = "normal", quiet = TRUE)
res$log2FoldChange_shrunk <- shr$log2FoldChange
write.table(as.data.frame(res), tempfile(fileext = ".tsv"), sep = "\t", quote = FALSE)
