"""The model zoo: registered specs with bundled configs, loading, tokenizers and sample inputs."""
from ._heads import OUTPUT_NAMES, TaskModule
from ._inputs import INPUT_NAMES, SENTENCE_PAIRS, sample_inputs
from ._loading import RANDOM_WEIGHTS_WARNING, LoadedModel, load
from ._registry import FAMILIES, REGISTRY, TASKS, ModelSpec, check_model_name, model_choices
from ._tokenizer import real_bert_dir, tokenizer_vocab_file, uncased_tokenizer, uncased_vocab_dir, write_vocab_txt
from .errors import UserError

__all__ = [
    "FAMILIES", "INPUT_NAMES", "OUTPUT_NAMES", "RANDOM_WEIGHTS_WARNING", "REGISTRY", "SENTENCE_PAIRS", "TASKS",
    "LoadedModel", "ModelSpec", "TaskModule", "UserError", "check_model_name", "load", "model_choices",
    "real_bert_dir", "sample_inputs", "tokenizer_vocab_file", "uncased_tokenizer", "uncased_vocab_dir", "write_vocab_txt",
]
