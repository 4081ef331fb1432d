"""The parser's parts; :mod:`taskdsl.parser` is its entry point.

``grammar`` loads the grammar (and caches its analysis); ``build`` turns
Lark's tree into :mod:`taskdsl.syntax` nodes with spans; ``errors`` words
syntax errors in the language's terms; ``recovery`` parses statement by
statement after an error; ``comments`` and ``literals`` read what the grammar
leaves as text.
"""
