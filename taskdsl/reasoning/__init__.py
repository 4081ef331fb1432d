"""Reasoning with tasks: prove, refute and analyse objectives (docs/reasoning.md).

Tasks are read as equations between terms (:mod:`.terms`, :mod:`.theory`);
egglog decides equalities (:mod:`.egraph`), a derivation is rebuilt
(:mod:`.rewrite`) and replayed by an independent checker (:mod:`.check`), and z3
finds finite countermodels (:mod:`.models`).  None of it imports JAX.
"""
