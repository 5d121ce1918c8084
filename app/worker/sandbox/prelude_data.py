"""torch.utils.data as a program sees it: Dataset, TensorDataset, Subset, random_split,
default_collate and DataLoader.

Never imported: the interpreter runs this file, under the program's own rules and budgets,
the first time a program imports torch.utils.data, and hands the program what it defines
(`Interpreter.data_namespace`). So it is written in the Python the sandbox allows, and a
dataset's `__getitem__`, a `collate_fn` or an item's tensors are the program's as if it had
written them. What it does with the program's random numbers is what PyTorch's DataLoader
does, so a program gets PyTorch's numbers: each time a loader is iterated it draws one
int64 (its workers' base seed, drawn whether there are workers or not), from its generator
or the shared one; a shuffle without a generator draws one more to seed its own.
"""

from typing import Any

import torch


def _draw_seed(generator: Any) -> int:
    """The interpreter's, bound in place of this one: one int64, as
    torch.empty((), dtype=torch.int64).random_(generator=generator) draws it."""
    raise NotImplementedError


class Dataset:
    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")


class TensorDataset(Dataset):
    def __init__(self, *tensors: Any) -> None:
        for tensor in tensors:
            if tensor.size(0) != tensors[0].size(0):
                raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> Any:
        return tuple(tensor[index] for tensor in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].size(0))


class Subset(Dataset):
    def __init__(self, dataset: Any, indices: Any) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Any, generator: Any = None) -> list[Subset]:
    total = len(dataset)
    if all(isinstance(length, float) for length in lengths) and abs(sum(lengths) - 1) < 1e-9:
        # Fractions: floors, then one more each, in turn, until all are placed (PyTorch's).
        counts = [int(fraction * total) for fraction in lengths]
        for index in range(total - sum(counts)):
            counts[index % len(counts)] += 1
        lengths = counts
    if sum(lengths) != total:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    if generator is None:
        order = torch.randperm(total).tolist()
    else:
        order = torch.randperm(total, generator=generator).tolist()
    subsets = []
    offset = 0
    for length in lengths:
        subsets.append(Subset(dataset, order[offset : offset + length]))
        offset += length
    return subsets


def default_collate(batch: list[Any]) -> Any:
    first = batch[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(batch, 0)
    if isinstance(first, float):
        return torch.tensor(batch, dtype=torch.float64)
    if isinstance(first, int):
        return torch.tensor(batch)
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        size = len(first)
        for sample in batch:
            if len(sample) != size:
                raise RuntimeError("each element in list of batch should be of equal size")
        # A list either way, as PyTorch's: `for X, y in loader` unpacks it.
        return [default_collate([sample[i] for sample in batch]) for i in range(size)]
    return batch


class DataLoader:
    def __init__(
        self,
        dataset: Any,
        batch_size: Any = 1,
        shuffle: Any = False,
        collate_fn: Any = None,
        drop_last: bool = False,
        generator: Any = None,
        num_workers: int = 0,
    ) -> None:
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.drop_last = drop_last
        self.generator = generator
        self.num_workers = num_workers

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.dataset)
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> "_LoaderIterator":
        return _LoaderIterator(self)


class _LoaderIterator:
    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.order: list[int] | None = None
        self.position = 0
        _draw_seed(loader.generator)

    def __iter__(self) -> "_LoaderIterator":
        return self

    def __next__(self) -> Any:
        loader = self.loader
        if self.order is None:  # PyTorch's sampler starts at the first batch, after the seed
            count = len(loader.dataset)
            if not loader.shuffle:
                self.order = list(range(count))
            elif loader.generator is None:
                generator = torch.Generator()
                generator.manual_seed(_draw_seed(None))
                self.order = torch.randperm(count, generator=generator).tolist()
            else:
                self.order = torch.randperm(count, generator=loader.generator).tolist()
        if loader.batch_size is None:
            if self.position >= len(self.order):
                raise StopIteration
            self.position += 1
            return loader.dataset[self.order[self.position - 1]]
        chosen = self.order[self.position : self.position + loader.batch_size]
        if not chosen or (loader.drop_last and len(chosen) < loader.batch_size):
            raise StopIteration
        self.position += len(chosen)
        return loader.collate_fn([loader.dataset[index] for index in chosen])
