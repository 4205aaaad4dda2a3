# R reference for bmsc_dge.enrichment.ora (over-representation analysis).
#
#   Rscript tests/data/ora/make_reference.R      (from the repository root; R is never called in CI)
#
# Written independently of the Python code from the rules in src/bmsc_dge/enrichment/_ora.py:
# universe = symbols with an adjusted p-value (the highest-baseMean row represents a duplicated
# symbol); up/down = padj < 0.05 with log2FoldChange > 0 / < 0; a set is tested when 5 <= members in
# the universe <= 600; p = phyper(overlap - 1, set_size, universe - set_size, de_genes,
# lower.tail = FALSE); padj = p.adjust(p, "BH") within collection and direction.
here <- "tests/data/ora"
de <- read.delim(file.path(here, "de.tsv"), colClasses = c("character", "character", "numeric", "numeric", "numeric"))
de <- de[!is.na(de$padj), ]
de <- de[order(-de$baseMean), ]          # stable: ties keep file order
de <- de[!duplicated(de$symbol), ]
universe <- de$symbol
sig <- de[de$padj < 0.05, ]
lists <- list(up = sig$symbol[sig$log2FoldChange > 0], down = sig$symbol[sig$log2FoldChange < 0])

read_gmt <- function(path) {
  lines <- strsplit(readLines(path), "\t")
  setNames(lapply(lines, function(x) unique(x[-(1:2)])), vapply(lines, `[`, "", 1))
}

rows <- list()
for (coll in c("pathways", "programs")) {
  sets <- lapply(read_gmt(file.path(here, paste0(coll, ".gmt"))), function(g) g[g %in% universe])
  sets <- sets[lengths(sets) >= 5 & lengths(sets) <= 600]
  for (dir in c("up", "down")) {
    drawn <- lists[[dir]]
    overlap <- vapply(sets, function(g) sum(g %in% drawn), 0L)
    size <- lengths(sets)
    p <- phyper(overlap - 1, size, length(universe) - size, length(drawn), lower.tail = FALSE)
    rows[[length(rows) + 1]] <- data.frame(
      term = names(sets), collection = coll, direction = dir, set_size = size, overlap = overlap,
      universe = length(universe), de_genes = length(drawn), pval = p, padj = p.adjust(p, "BH")
    )
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "reference.csv"), row.names = FALSE)
cat(sprintf("%d rows; R %s\n", nrow(out), R.version.string))
