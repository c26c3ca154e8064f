"""``tinydl.text``: what sequence models around the layers need — a vocabulary, greedy and
beam-search decoding, and the BLEU score (docs/recurrent_attention.md)."""
from .bleu import corpus_bleu, sentence_bleu
from .decoding import beam_search, greedy_decode
from .vocabulary import Vocabulary
