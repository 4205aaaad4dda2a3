# fgsea reference for `bmsc-dge gsea` (tests/data/gsea/README.md says how it was run).
#
#   R_LIBS=<library holding fgsea 1.31.6> Rscript tests/data/gsea/make_reference.R
#
# fgsea is not a Debian package; it was run once by hand, never in CI.
suppressMessages({library(fgsea); library(data.table)})
here <- "tests/data/gsea"
rnk <- read.table(file.path(here, "ranked.rnk"), header = TRUE, colClasses = c("character", "numeric"),
                  comment.char = "#", sep = "\t")
stats <- setNames(rnk$t, rnk$ID)
pathways <- gmtPathways(file.path(here, "sets.gmt"))
flat <- function(res) { res[, leadingEdge := vapply(leadingEdge, paste, "", collapse = ";")]; res }

set.seed(42)
ml <- fgseaMultilevel(pathways, stats, minSize = 15, maxSize = 500, eps = 0)
fwrite(flat(ml)[order(pathway)], file.path(here, "fgsea_multilevel.tsv"), sep = "\t")

set.seed(42)
simple <- fgseaSimple(pathways, stats, nperm = 100000, minSize = 15, maxSize = 500)
fwrite(flat(simple)[order(pathway)], file.path(here, "fgsea_simple.tsv"), sep = "\t")

# fgsea's error of a simple (permutation) p-value, for a grid of counts
grid <- CJ(n_more_extreme = c(0, 1, 5, 50, 500), n = c(1000, 10000))
grid[, log2err := 1 / log(2) * sqrt(trigamma(n_more_extreme + 1) - trigamma(n + 1))]
fwrite(grid, file.path(here, "simple_log2err.tsv"), sep = "\t")
cat(sprintf("fgsea %s, %s\n", packageVersion("fgsea"), R.version.string))
