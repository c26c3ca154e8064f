"""``tinydl.data``: datasets, a seeded DataLoader, and the data the examples use (nothing is downloaded)."""
from .captions import CAPTION_WORDS, COLOURS, HELD_OUT, RELATIONS, CaptionScenes, make_captions
from .cluttered_digits import ClutteredDigits, make_cluttered_digits
from .dataset import Dataset, TensorDataset
from .digits import Split, load_digits
from .digits_m import DigitsM, make_digits_m  # digits-M: the target domain of DANN (issue 18)
from .loader import DataLoader, default_collate
from .shapes import SHAPE_CLASSES, ShapesScenes, make_shapes
from .textures import TEXTURE_CLASSES, Contents, Textures, make_content, make_textured_shapes, make_textures
from .number_words import (SOURCE_TOKENS, TARGET_TOKENS, NumberPairs, make_number_pairs, number_to_digits,
                           number_to_words)
