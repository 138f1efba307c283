"""Attribution: the stage that builds the code index (codeindex/) from a dataset
made by `commons curate`, edits it (opt-outs), and queries it from the command
line (`commons index`, `commons attribute`)."""
