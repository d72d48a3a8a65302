"""Report sections: each module has TITLE, ORDER and build(outdir) -> Markdown."""
