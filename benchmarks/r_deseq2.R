# R DESeq2 alone, for the benchmark's reference rows (never run by CI or at run time):
#   Rscript benchmarks/r_deseq2.R COUNTS.tsv[.gz] SAMPLES.tsv "~ batch + sex + condition" condition T2DM control
# COUNTS: gene_id, optional gene_name, one column per sample; SAMPLES: first column = sample IDs.
# Runs DESeq() (size factors, dispersions, Wald, Cook's), results() with independent filtering,
# and lfcShrink(type = "normal") - apeglm, the prior bmsc-dge follows, is not installable here -
# then writes the table to a temporary file, like a user's script would.
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
con <- if (grepl("\\.gz$", args[1])) gzfile(args[1]) else args[1]
counts <- read.delim(con, check.names = FALSE)
samples <- read.delim(args[2], row.names = 1, stringsAsFactors = TRUE)
variable <- args[4]
mat <- as.matrix(counts[, rownames(samples)])
rownames(mat) <- counts$gene_id
samples[[variable]] <- relevel(factor(samples[[variable]]), ref = args[6])
dds <- DESeqDataSetFromMatrix(mat, samples, design = as.formula(args[3]))
dds <- DESeq(dds, quiet = TRUE)
coef <- paste0(variable, "_", args[5], "_vs_", args[6])
res <- results(dds, name = coef, alpha = 0.05)
shr <- lfcShrink(dds, coef = coef, type = "normal", quiet = TRUE)
res$log2FoldChange_shrunk <- shr$log2FoldChange
write.table(as.data.frame(res), tempfile(fileext = ".tsv"), sep = "\t", quote = FALSE)
