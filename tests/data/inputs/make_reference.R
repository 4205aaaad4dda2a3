# R references for the input paths of issue 21 (tximport, nf-core/rnaseq tables, htseq-count, STAR).
#
#   Rscript tests/data/inputs/make_reference.R      (from the repository root; R is never called in CI)
#
# Inputs: the simulated quantifier outputs of make_inputs.py. Writes reference/<name>.* :
#   <q>.txi_{counts,length,abundance}.csv  gene-level tximport output (q = salmon, kallisto, rsem)
#   <d>.de.csv                             DESeq() + results(contrast = condition T2DM vs control, alpha 0.05)
#   <d>.normfactors.csv / <d>.sizefactors.csv, <d>.vst.csv (varianceStabilizingTransformation, blind)
# and nfcore/salmon.merged.gene_{counts,lengths}.tsv as nf-core/rnaseq's tximport step writes them
# (txOut = TRUE, then summarizeToGene; gene_id, gene_name, one column per sample).
suppressMessages({
  library(tximport)
  library(DESeq2)
})
here <- "tests/data/inputs"
out <- file.path(here, "reference")
dir.create(out, showWarnings = FALSE)

samples <- read.delim(file.path(here, "samples.tsv"), colClasses = "character")
rownames(samples) <- samples$sample
samples$condition <- factor(samples$condition, levels = c("control", "T2DM"))
samples$batch <- factor(samples$batch, levels = c("1", "2"))
tx2gene <- read.csv(file.path(here, "tx2gene.csv"))
# salmon and nf-core: ~ condition (7 samples per cell, so Cook's outliers are replaced and refitted);
# rsem, htseq, STAR: ~ batch + condition (batch numbered 1/2, a factor)
design <- ~ batch + condition

write_txi <- function(txi, name) {
  for (what in c("counts", "length", "abundance")) {
    write.csv(txi[[what]], file.path(out, paste0(name, ".txi_", what, ".csv")))
  }
}

de <- function(dds, name) {
  dds <- DESeq(dds, quiet = TRUE)
  res <- results(dds, contrast = c("condition", "T2DM", "control"), alpha = 0.05)
  mc <- mcols(dds)
  write.csv(data.frame(
    gene = rownames(res), baseMean = res$baseMean, log2FoldChange = res$log2FoldChange,
    lfcSE = res$lfcSE, stat = res$stat, pvalue = res$pvalue, padj = res$padj,
    dispGeneEst = mc$dispGeneEst, dispFit = mc$dispFit, dispersion = mc$dispersion,
    replaced = if (is.null(mc$replace)) FALSE else mc$replace
  ), file.path(out, paste0(name, ".de.csv")), row.names = FALSE)
  if (!is.null(normalizationFactors(dds))) {
    write.csv(normalizationFactors(dds), file.path(out, paste0(name, ".normfactors.csv")))
  } else {
    write.csv(data.frame(sample = colnames(dds), sizeFactor = sizeFactors(dds)),
              file.path(out, paste0(name, ".sizefactors.csv")), row.names = FALSE)
  }
  vsd <- varianceStabilizingTransformation(dds, blind = TRUE)
  write.csv(assay(vsd), file.path(out, paste0(name, ".vst.csv")))
  ft <- metadata(res)$filterThreshold
  write.csv(data.frame(key = c("R", "DESeq2", "tximport", "filterThreshold", "replaced"),
                       value = c(R.version.string, as.character(packageVersion("DESeq2")),
                                 as.character(packageVersion("tximport")), unname(ft),
                                 sum(mc$replace, na.rm = TRUE))),
            file.path(out, paste0(name, ".meta.csv")), row.names = FALSE)
}

# Salmon and kallisto: tximport(files, type, tx2gene), countsFromAbundance = "no"
files <- file.path(here, "salmon", samples$sample, "quant.sf.gz")
names(files) <- samples$sample
txi <- tximport(files, type = "salmon", tx2gene = tx2gene)
write_txi(txi, "salmon")
de(DESeqDataSetFromTximport(txi, samples, ~ condition), "salmon")

files <- file.path(here, "kallisto", samples$sample, "abundance.tsv.gz")
names(files) <- samples$sample
write_txi(tximport(files, type = "kallisto", tx2gene = tx2gene), "kallisto")

# RSEM gene level; DESeqDataSetFromTximport refuses lengths of 0: set to 1 as DESeq2's author advises
files <- file.path(here, "rsem", paste0(samples$sample, ".genes.results.gz"))
names(files) <- samples$sample
txi <- tximport(files, type = "rsem", txIn = FALSE, txOut = FALSE)
txi$length[txi$length == 0] <- 1
write_txi(txi, "rsem")
de(DESeqDataSetFromTximport(txi, samples, design), "rsem")

# nf-core/rnaseq's merged tables (tximport.r: txOut = TRUE, then summarizeToGene)
files <- file.path(here, "salmon", samples$sample, "quant.sf.gz")
names(files) <- samples$sample
txo <- tximport(files, type = "salmon", txOut = TRUE)
gi <- summarizeToGene(txo, tx2gene = tx2gene)
genes <- read.delim(file.path(here, "gene_names.tsv"))
nf <- file.path(here, "nfcore")
dir.create(nf, showWarnings = FALSE)
for (what in c("counts", "length")) {
  tab <- data.frame(gene_id = rownames(gi[[what]]),
                    gene_name = genes$gene_name[match(rownames(gi[[what]]), genes$gene_id)],
                    gi[[what]], check.names = FALSE)
  suffix <- if (what == "counts") "gene_counts" else "gene_lengths"
  write.table(tab, file.path(nf, paste0("salmon.merged.", suffix, ".tsv")), sep = "\t",
              quote = FALSE, row.names = FALSE)
}
# what a user of those files does in R: read them back, DESeqDataSetFromTximport on a list
cts <- read.delim(file.path(nf, "salmon.merged.gene_counts.tsv"), check.names = FALSE, row.names = 1)
len <- read.delim(file.path(nf, "salmon.merged.gene_lengths.tsv"), check.names = FALSE, row.names = 1)
txi <- list(counts = as.matrix(cts[, samples$sample]), length = as.matrix(len[, samples$sample]),
            countsFromAbundance = "no")
de(DESeqDataSetFromTximport(txi, samples, ~ condition), "nfcore")

# htseq-count: DESeqDataSetFromHTSeqCount
table <- data.frame(sampleName = samples$sample, fileName = paste0(samples$sample, ".txt"),
                    condition = samples$condition, batch = samples$batch)
de(DESeqDataSetFromHTSeqCount(table, directory = file.path(here, "htseq"), design = design), "htseq")

# STAR ReadsPerGene.out.tab, reverse-stranded library: column 4, the four N_ lines dropped
star <- lapply(samples$sample, function(s) {
  read.delim(file.path(here, "star", paste0(s, ".ReadsPerGene.out.tab")), header = FALSE)
})
cts <- sapply(star, function(t) t[-(1:4), 4])
rownames(cts) <- star[[1]][-(1:4), 1]
colnames(cts) <- samples$sample
de(DESeqDataSetFromMatrix(cts, samples, design), "star")

writeLines(capture.output(sessionInfo()), file.path(out, "sessionInfo.txt"))
