"""Back-propagation as Goodfellow et al. (2016, 6.5.6): prune, build_grad, backprop."""
