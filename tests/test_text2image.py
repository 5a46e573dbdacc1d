"""coursekit.text2image: captions, the text encoder, conditioning and guidance, checkpoints, bad input.

The behavioural tests (the digit word decides the class; thick above thin) use the model shipped with the
package (``coursekit/assets/t2i_digits.pt``, SHA-256 checked, made by ``bench/bench_t2i.py --asset``), so no
test trains for long: the whole file takes well under a minute of CPU.
"""

from __future__ import annotations

import random

import pytest
import torch

from coursekit import diffusion as D
from coursekit import metrics
from coursekit import text2image as T
from coursekit.data import load_digits
from coursekit.text2image import captions as C
from coursekit.text2image.encoder import PAD, START, TextEncoder
from coursekit.text2image.model import PromptTable

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return T.pretrained()


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits("train")
    return x, y, C.fit_bins(x, y)


# ---------------------------------------------------------------------------------------------------------
# captions
# ---------------------------------------------------------------------------------------------------------

def test_measured_attributes_follow_the_pixels():
    """Oracles built by hand: more ink → more ink; a shear to the right → positive slant; a wider spread → size."""
    g = torch.Generator().manual_seed(random.randrange(10_000))
    img = -torch.ones(1, 1, 8, 8)
    img[0, 0, 1:7, 3:5] = 1.0                                          # an upright bar
    thick = img.clone()
    thick[0, 0, 1:7, 2:6] = 1.0
    leaning = -torch.ones(1, 1, 8, 8)
    for i in range(8):                                                 # top to the right: column falls with i
        leaning[0, 0, i, 6 - i // 2 - 1: 6 - i // 2 + 1] = 1.0
    big = -torch.ones(1, 1, 8, 8)
    big[0, 0, [0, 0, 7, 7], [0, 7, 0, 7]] = 1.0
    m = {k: C.measure(v) for k, v in dict(bar=img, thick=thick, leaning=leaning, big=big).items()}
    assert m["thick"]["ink"] > m["bar"]["ink"]
    assert abs(float(m["bar"]["slant"])) < 1e-6
    assert float(m["leaning"]["slant"]) > 0.3
    assert m["big"]["size"] > m["bar"]["size"]
    noise = torch.rand(5, 1, 8, 8, generator=g) * 2 - 1
    assert torch.allclose(C.measure(noise)["ink"], ((noise + 1) / 2).mean((1, 2, 3)))


def test_caption_words_match_the_measured_bins(digits):
    x, y, bins = digits
    b = C.attribute_bins(x, y, bins)
    rng = random.Random(0)
    checked = 0
    for i in torch.randperm(len(y))[:200].tolist():
        lang = C.LANGS[i % 2]
        text = C.caption(int(y[i]), {a: int(b[a][i]) for a in C.ATTRIBUTES}, lang, rng, p_style=1.0)
        assert any(w in C.tokenize(text) or w in text for w in C.DIGIT_WORDS[lang][int(y[i])])
        if text in [w for words in C.DIGIT_WORDS[lang] for w in words]:
            continue                                                    # the template "{d}": the digit alone
        for (attribute, level), words in C.STYLE_WORDS[lang].items():
            said = any(w in text for w in words)
            if int(b[attribute][i]) == level:
                assert said, (text, attribute, level)
                checked += 1
            elif lang == "en" or attribute != "ink":      # (细/粗 are not substrings of other style words)
                assert not said, (text, attribute, level, int(b[attribute][i]))
    assert checked > 150
    for a in C.ATTRIBUTES:                                               # thirds per class
        counts = torch.bincount(b[a][y == 3], minlength=3)
        assert counts.min() >= 0.28 * counts.sum()


def test_held_out_phrasings_never_appear_in_training(digits):
    x, y, bins = digits
    texts = {t for row in C.training_captions(y[:300], C.attribute_bins(x[:300], y[:300], bins), 16) for t in row}
    rng = random.Random(1)
    held = {C.caption(d, {"ink": rng.randrange(3), "slant": rng.randrange(3), "size": rng.randrange(3)}, lang,
                      rng, held_out=True) for d in range(10) for lang in C.LANGS for _ in range(20)}
    assert not set(C.TEMPLATES["en"]) & set(C.HELD_OUT["en"])
    assert not set(C.TEMPLATES["zh"]) & set(C.HELD_OUT["zh"])
    both = {t for t in held if t in texts}
    assert all(len(C.tokenize(t)) <= 1 for t in both), both             # only a bare digit word may coincide
    vocab = set(C.build_vocab(list(texts)))
    assert {tok for t in held for tok in C.tokenize(t)} - vocab <= {"要"}     # new sentences of known words


def test_tokenizer_and_unknown_words():
    assert C.tokenize("A THIN 3, slanted!") == ["a", "thin", "3", "slanted"]
    assert C.tokenize("一个粗的七") == ["一", "个", "粗", "的", "七"]
    enc = TextEncoder(["a", "thin", "3"], dim=8, heads=2, max_tokens=6)
    ids = enc.ids(["a thin 3", "a purple thin giraffe 3", "", "🙂 ??"])
    assert torch.equal(ids[0], ids[1])                                  # unknown words ignored
    assert ids[2].tolist() == [START] + [PAD] * 6 and torch.equal(ids[2], ids[3])   # nothing known: ∅


# ---------------------------------------------------------------------------------------------------------
# the encoder
# ---------------------------------------------------------------------------------------------------------

def test_encoder_shapes_padding_and_truncation():
    torch.manual_seed(0)
    enc = TextEncoder([str(i) for i in range(10)] + ["a"], dim=16, heads=2, max_tokens=5).eval()
    ids = enc.ids(["1 2", "3"])
    assert ids.shape == (2, 6)
    c = enc(ids)
    assert c.shape == (2, 16) and torch.isfinite(c).all()
    # padding changes nothing: the same prompt trimmed to its own length gives the same vector
    assert torch.allclose(enc(ids[1:, :2]), c[1:], atol=1e-5)
    # word order matters to the transformer (positions), unknown words do not
    assert not torch.allclose(enc(enc.ids(["1 2"])), enc(enc.ids(["2 1"])))
    with pytest.warns(UserWarning, match=r"prompts\[0\] has 7 known tokens; only the first 5"):
        long = enc.ids(["1 2 3 4 5 6 7"])
    assert long.shape == (1, 6) and long[0, -1].item() == enc.index["5"]


def test_prompt_table_feeds_ddpm_loss_and_null_label():
    """The caption bank as labels: −1 (drop_labels' ∅) is the empty prompt, identical to encoding ""."""
    torch.manual_seed(0)
    m = T.TextToImage(["a", "1", "2"], {}, T.scaled_linear(20), hidden=16, text_dim=8, heads=2, max_tokens=4)
    bank = PromptTable(m, m.encoder.ids(["a 1", "2", ""]))
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([1, 5, 9])
    out = bank(x, t, torch.tensor([-1, 2, 0]))
    ref = m(x, t, m.encode(["", "", "a 1"]))
    assert torch.allclose(out, ref, atol=1e-5)
    s = D.make_schedule(**T.scaled_linear(20))
    loss = D.ddpm_loss(bank, s, x, y=torch.tensor([0, 1, 2]), p_uncond=0.5)
    loss.backward()
    assert m.encoder.tok.weight.grad is not None and m.encoder.tok.weight.grad.abs().sum() > 0


def test_train_runs_and_records_its_budget(tmp_path):
    m = T.train(seconds=None, steps=3, seed=0, progress=False, hidden=16, text_dim=8, heads=2,
                captions_per_image=2)
    assert m.train_info["steps"] == 3 and m.train_info["cpu_seconds"] > 0
    assert isinstance(m, T.TextToImage) and not m.training
    with pytest.raises(ValueError, match="options must be among"):
        T.train(steps=1, hiden=3)


# ---------------------------------------------------------------------------------------------------------
# guidance and conditioning
# ---------------------------------------------------------------------------------------------------------

def test_guidance_combines_conditional_and_unconditional(model):
    """One step of generate's sampler equals ε_∅ + w (ε_c − ε_∅) computed by hand (w random)."""
    w = 0.5 + 4 * random.random()
    table = T._Conditions(model, model.encode(["a thick 7"]), model.encode([""]))
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([40, 40])
    with torch.no_grad():
        cond = model(x, t, model.encode(["a thick 7", "a thick 7"]))
        uncond = model(x, t, model.encode(["", ""]))
        both = table(torch.cat([x, x]), torch.cat([t, t]), torch.tensor([0, 0, -1, -1]))
    assert torch.allclose(both[:2], cond, atol=1e-5) and torch.allclose(both[2:], uncond, atol=1e-5)
    guided = torch.lerp(uncond, cond, w)                               # ε̃ = ε_∅ + w (ε_c − ε_∅)
    assert torch.allclose(guided, uncond + w * (cond - uncond), atol=1e-5)
    # w = 1 is the conditional model alone, w = 0 the unconditional one (= the empty prompt)
    a = T.generate(model, ["seven"], 4, guidance_scale=0.0, seed=5)
    b = T.generate(model, [""], 4, guidance_scale=3.0, seed=5)
    assert torch.allclose(a, b, atol=1e-4)


def test_changing_only_the_digit_word_changes_the_class(model):
    """Same template, same style words, same seed; only the digit word differs (both languages)."""
    prompts = [f"a thick {w}" for w in ("three", "seven")] + [f"一个细的{w}" for w in ("二", "八")]
    images = T.generate(model, prompts, n_per_prompt=8, guidance_scale=3.0, seed=0)
    label, _ = metrics.classify(images)
    per = label.view(4, 8)
    for row, digit in zip(per, (3, 7, 2, 8)):
        assert (row == digit).float().mean() >= 0.75, (digit, row.tolist())


def test_thick_is_inkier_than_thin(model):
    images = T.generate(model, ["a thick 4", "a thin 4", "一个粗的零", "一个细的零"], n_per_prompt=12, seed=1)
    ink = C.measure(images)["ink"].view(4, 12).mean(1)
    assert ink[0] > ink[1] and ink[2] > ink[3], ink.tolist()


def test_generate_is_prompt_major_and_reproducible(model):
    a = T.generate(model, ["1", "0"], n_per_prompt=3, seed=7)
    assert a.shape == (6, 1, 8, 8) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, T.generate(model, ["1", "0"], n_per_prompt=3, seed=7))
    assert (metrics.classify(a)[0][:3] == 1).sum() >= 2 and (metrics.classify(a)[0][3:] == 0).sum() >= 2


# ---------------------------------------------------------------------------------------------------------
# checkpoints and bad input
# ---------------------------------------------------------------------------------------------------------

def test_save_load_round_trip_and_other_checkpoints(model, tmp_path):
    path = T.save(model, tmp_path / "m.pt")
    again = T.load(path)
    assert again.config == model.config
    for (k, v), (k2, v2) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert torch.equal(T.generate(model, ["八"], 2, seed=3), T.generate(again, ["八"], 2, seed=3))
    from coursekit import nets, train
    ddpm = train.save_checkpoint(tmp_path / "ddpm.pt", nets.MLPDenoiser(hidden=8, depth=1))
    with pytest.raises(ValueError, match=r"path .*ddpm.pt.* is not a text2image checkpoint \(it holds 'mlp'"):
        T.load(ddpm)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="is not a text2image checkpoint"):
        T.load(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="SHA-256"):
        T.load(path, sha256="0" * 64)


def test_the_shipped_model_is_small_and_checked():
    import hashlib
    assert T.ASSET.stat().st_size < 1_000_000
    assert hashlib.sha256(T.ASSET.read_bytes()).hexdigest() == T.ASSET_SHA256


@pytest.mark.parametrize("kwargs,message", [
    (dict(prompts="一个七"), "prompts must be a list of str"),
    (dict(prompts=[]), "prompts must be a non-empty list"),
    (dict(prompts=["7", 7]), r"prompts\[1\] must be a str, got int"),
    (dict(prompts=[None]), r"prompts\[0\] must be a str"),
    (dict(n_per_prompt=0), "n_per_prompt must be a positive int"),
    (dict(n_per_prompt=2.0), "n_per_prompt must be a positive int"),
    (dict(guidance_scale=float("nan")), "guidance_scale must be a finite number"),
    (dict(guidance_scale=float("inf")), "guidance_scale must be a finite number"),
    (dict(guidance_scale="3"), "guidance_scale must be a finite number"),
    (dict(seed=1.5), "seed must be an int"),
])
def test_bad_input_names_the_argument(model, kwargs, message):
    args = dict(prompts=["7"], n_per_prompt=2, guidance_scale=3.0, seed=0) | kwargs
    with pytest.raises(ValueError, match=message):
        T.generate(model, **args)


def test_bad_model_and_long_prompt(model):
    with pytest.raises(ValueError, match="model must be a text2image model"):
        T.generate(torch.nn.Linear(2, 2), ["7"])
    with pytest.warns(UserWarning, match="only the first 24"):
        x = T.generate(model, ["thick " * 30 + "7"], n_per_prompt=1)
    assert x.shape == (1, 1, 8, 8)


def test_cli_train_then_sample_writes_a_titled_grid(tmp_path, capsys):
    from coursekit.cli import main

    assert main(["t2i", "train", "--steps", "2", "--out", str(tmp_path)]) == 0
    assert T.load(tmp_path / "checkpoint.pt").train_info["steps"] == 2
    assert main(["t2i", "sample", "--prompt", "一个粗的七", "--prompt", "", "--n", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "一个粗的七" in out and "read as 7" in out and "(empty prompt: unconditional)" in out
    saved = torch.load(tmp_path / "samples.pt", weights_only=True)
    assert saved["samples"].shape == (4, 1, 8, 8) and saved["prompts"] == ["一个粗的七", ""]
    assert (tmp_path / "samples.png").read_bytes()[:4] == b"\x89PNG"


def test_widget_redraws_on_a_new_prompt_and_w(model):
    from coursekit.widgets.text2image import TextToImageExplorer

    w = TextToImageExplorer(model, prompt="一个粗的七", n=8, lang="zh")
    first = w.image.value
    assert first[:4] == b"\x89PNG" and int(w.counts.argmax()) == 7
    w.text.value = "a thin 3 slanted to the right"
    assert w.image.value != first and int(w.counts.argmax()) == 3
    second = w.image.value
    w.slider.value = 0.0
    assert w.image.value != second
    assert "image/png" in w._repr_mimebundle_()
    # Generate redraws what the box holds; a click that changes nothing (right after Enter) samples nothing
    drawn = []
    w._render = lambda: drawn.append(w.state()) or b"\x89PNG drawn"
    w.button.click()
    assert drawn == []
    w.text.value = "八"
    w.button.click()
    assert drawn == [("八", 0.0)] and w.image.value == b"\x89PNG drawn"
    # the edition's language on every control, and a line that says when the picture is redrawn
    assert (w.text.description, w.button.description, w.slider.description) == ("提示词", "生成", "引导系数 w")
    assert "回车" in w.hint.value and "回车" in w.button.tooltip and "w = 0" in w.slider.tooltip
    en = TextToImageExplorer(model, prompt="7", n=2, lang="en")
    assert (en.text.description, en.button.description) == ("prompt", "Generate") and "Enter" in en.hint.value
    with pytest.raises(ValueError, match="lang must be one of"):
        TextToImageExplorer(model, lang="fr")


def test_cli_warns_about_a_long_prompt_in_one_line(tmp_path, capsys):
    from coursekit.cli import main

    assert main(["t2i", "sample", "--prompt", "thick " * 30 + "7", "--n", "1", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["coursekit t2i: warning: --prompt: prompts[0] has 31 known tokens; only the first 24 are used"]
