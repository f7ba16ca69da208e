import numpy as np
import pytest
import torch
import torch.nn.functional as F

from idc_core.data.paired import PairedArrays
from idc_core.models import build_model
from idc_core.training import TrainingCancelled, TrainRecipe, get_recipe, train_sr_model
from idc_core.training.loop import augment_pair, lr_factor, to_tensor


def small_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("edsr-tiny", 4, num_feat=8, num_block=1)


def l1_on(model, pairs: PairedArrays) -> float:
    with torch.no_grad():
        lr, hr = to_tensor(pairs.lr, torch.device("cpu")), to_tensor(pairs.hr, torch.device("cpu"))
        return float(F.l1_loss(model(lr), hr))


def test_same_seed_same_weights_other_seed_other_batches(t91_pairs):
    recipe = TrainRecipe(iterations=6, batch_size=4, lr=1e-3)
    runs = []
    for seed in (3, 3, 4):
        model = small_model()
        history = train_sr_model(model, t91_pairs, recipe.model_copy(update={"seed": seed}))
        runs.append((model.state_dict(), history.losses))
    (w1, l1), (w2, l2), (_, l3) = runs
    assert l1 == l2 and all(torch.equal(w1[k], w2[k]) for k in w1)
    assert l1 != l3


def test_weights_come_back_in_the_standard_layout(t91_pairs, tmp_path):
    """Training runs channels-last on the CPU; what it returns (or leaves when cancelled) is in
    the standard layout, which safetensors needs to save it, and in eval mode."""
    from idc_core.models import save_model

    for should_stop in (None, lambda: True):
        model = small_model()
        try:
            train_sr_model(
                model, t91_pairs, TrainRecipe(iterations=2, batch_size=4), should_stop=should_stop
            )
        except TrainingCancelled:
            assert should_stop is not None
        assert not model.training
        assert all(p.is_contiguous() for p in model.parameters())
    save_model(model, tmp_path / "model.safetensors")


def test_training_lowers_the_loss_on_real_patches(t91_pairs):
    model = small_model()
    before = l1_on(model, t91_pairs)
    history = train_sr_model(model, t91_pairs, TrainRecipe(iterations=30, batch_size=8, lr=2e-3))
    after = l1_on(model, t91_pairs)
    assert after < before * 0.9
    assert len(history.losses) == 30 and not model.training
    assert history.learning_rates[0] == pytest.approx(2e-3)
    assert history.learning_rates[-1] < 1e-4  # cosine decay towards lr_min


def test_float_lr_equal_to_uint8_over_255_trains_identically(t91_pairs):
    as_float = PairedArrays(
        hr=t91_pairs.hr, lr=t91_pairs.lr.astype(np.float32) / 255.0, names=t91_pairs.names
    )
    recipe = TrainRecipe(iterations=4, batch_size=4)
    histories = [train_sr_model(small_model(), pairs, recipe) for pairs in (t91_pairs, as_float)]
    assert histories[0].losses == histories[1].losses


def test_validation_every_n_steps_and_at_the_end(t91_pairs):
    calls = []

    def validate(model):
        assert not model.training
        calls.append(1)
        return {"psnr_y": float(len(calls))}

    model = small_model()
    recipe = TrainRecipe(iterations=5, batch_size=2, val_every=2)
    history = train_sr_model(model, t91_pairs, recipe, validate=validate)
    assert [v["iteration"] for v in history.validations] == [2, 4, 5]
    assert [v["psnr_y"] for v in history.validations] == [1.0, 2.0, 3.0]


def test_progress_and_cancellation(t91_pairs):
    seen = []
    recipe = TrainRecipe(iterations=10, batch_size=2)
    with pytest.raises(TrainingCancelled):
        train_sr_model(
            small_model(),
            t91_pairs,
            recipe,
            on_progress=lambda event: seen.append(event.iteration),
            should_stop=lambda: len(seen) >= 3,
        )
    assert seen == [1, 2, 3]


def test_schedules():
    cosine = TrainRecipe(iterations=100, lr=1e-3, lr_min=1e-5)
    assert lr_factor(cosine, 0) == 1.0
    assert lr_factor(cosine, 50) == pytest.approx(0.505)
    assert lr_factor(cosine, 100) == pytest.approx(0.01)
    step = TrainRecipe(iterations=100, schedule="step", step_milestones=(0.5, 0.8), step_gamma=0.5)
    assert [lr_factor(step, s) for s in (0, 49, 50, 79, 80, 99)] == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_augmentation_applies_the_same_view_to_lr_and_hr(t91_pairs):
    hr = to_tensor(t91_pairs.hr[:16], torch.device("cpu"))
    lr = F.avg_pool2d(hr, 4)  # block averages commute with flips and transposes
    aug_lr, aug_hr = augment_pair(lr, hr, torch.Generator().manual_seed(0))
    assert torch.allclose(F.avg_pool2d(aug_hr, 4), aug_lr, atol=1e-6)
    assert not torch.equal(aug_hr, hr)  # 16 samples: some view other than identity was drawn


def test_bad_inputs_are_refused(t91_pairs):
    with pytest.raises(ValueError, match="x2"):
        train_sr_model(
            build_model("edsr-tiny", 2, num_feat=4, num_block=0), t91_pairs, TrainRecipe()
        )
    with pytest.raises(ValueError, match="unknown training recipe"):
        get_recipe("fast")
    with pytest.raises(ValueError):
        TrainRecipe(iterations=0)
    assert get_recipe("student-cpu", iterations=7, lr=None).iterations == 7
