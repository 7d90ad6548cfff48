"""Neuro-evolution: a population of tiny neural nets learns Flappy Bird."""
