"""`make bench`: the project over HTTP against torchviz in the same run, and its goals."""
