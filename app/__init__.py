"""Autograd graph explorer: paste PyTorch code, see its autograd graph with every gradient."""
