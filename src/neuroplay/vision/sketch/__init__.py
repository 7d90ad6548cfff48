"""Sketch colouring: retrieve a photo for a line drawing, segment both, match regions, colour."""
