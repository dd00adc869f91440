"""The model zoo: registered specs with bundled configs, the task I/O contract, loading, tokenizers and sample
inputs. Importing it loads neither torch nor TensorFlow: `load` and models.mobile import torch when called."""
from ._config_checks import NO_SIZE_LIMITS, size_limits_lifted
from ._identity import weights_identity
from ._inputs import SENTENCE_PAIRS, sample_inputs
from ._loading import RANDOM_WEIGHTS_WARNING, LoadedModel, load, model_ref
from ._text_cases import CASES_FILE, PAIRS, TEXTS, read_tokenizer_cases, tokenizer_cases, write_tokenizer_cases
from ._registry import FAMILIES, REGISTRY, TASKS, ModelSpec, check_model_name, model_choices
from ._tokenizer import real_bert_dir, tokenizer_vocab_file, uncased_tokenizer, uncased_vocab_dir, write_vocab_txt
from .contract import (HEAD_OUTPUTS, INPUT_NAMES, OUTPUT_NAMES, POOLINGS, IOContract, OutputHead, TensorSpec,
                       task_contract, token_inputs)
from .errors import UserError

__all__ = [
    "NO_SIZE_LIMITS", "size_limits_lifted",
    "CASES_FILE", "FAMILIES", "PAIRS", "TEXTS", "read_tokenizer_cases", "tokenizer_cases", "write_tokenizer_cases", "HEAD_OUTPUTS", "INPUT_NAMES", "OUTPUT_NAMES", "POOLINGS", "RANDOM_WEIGHTS_WARNING", "REGISTRY",
    "SENTENCE_PAIRS", "TASKS", "IOContract", "LoadedModel", "ModelSpec", "OutputHead", "TensorSpec", "UserError",
    "check_model_name", "load", "model_choices", "model_ref", "real_bert_dir", "sample_inputs", "task_contract",
    "token_inputs", "tokenizer_vocab_file", "uncased_tokenizer", "uncased_vocab_dir", "weights_identity",
    "write_vocab_txt",
]
