"""CLI numbers are validated like config numbers (rl_lab.cli.numbers): exit 2 naming the flag."""

from __future__ import annotations

import argparse

import pytest

from rl_lab.cli.numbers import finite_float, fraction, nonnegative_int, positive_float, positive_int


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t")
    p.add_argument("--n", type=positive_int)
    p.add_argument("--seed", type=nonnegative_int)
    p.add_argument("--tol", type=positive_float)
    p.add_argument("--threshold", type=fraction)
    p.add_argument("--temperature", type=finite_float(0.0))
    return p


@pytest.mark.parametrize(("argv", "flag", "why"), [
    (["--n", "0"], "--n", "must be >= 1"),
    (["--n=-3"], "--n", "must be >= 1"),
    (["--n", "2.5"], "--n", "not a whole number"),
    (["--n", "1e3"], "--n", "not a whole number"),
    (["--seed=-1"], "--seed", "must be >= 0"),
    (["--tol", "nan"], "--tol", "finite"),
    (["--tol", "inf"], "--tol", "finite"),
    (["--tol", "0"], "--tol", "must be > 0"),
    (["--tol", "abc"], "--tol", "not a number"),
    (["--threshold", "1.5"], "--threshold", "must be <= 1"),
    (["--threshold=-inf"], "--threshold", "finite"),
    (["--temperature=-0.1"], "--temperature", "must be >= 0"),
])
def test_bad_numbers_exit_2_naming_the_flag(capsys, argv, flag, why):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and why in err


def test_good_numbers_parse():
    args = parser().parse_args(["--n", "64", "--seed", "0", "--tol", "1e-5", "--threshold", "1",
                                "--temperature", "0"])
    assert (args.n, args.seed, args.tol, args.threshold, args.temperature) == (64, 0, 1e-5, 1.0, 0.0)


WIRED = [
    ["eval", "passk", "--config", "configs/quickstart.yaml", "--model", "m", "--n", "0"],
    ["eval", "passk", "--config", "configs/quickstart.yaml", "--model", "m", "--max-new-tokens", "-3"],
    ["analyze", "updates", "--base", "a", "--tuned", "b", "--tol", "nan"],
    ["analyze", "updates", "--base", "a", "--tuned", "b", "--chunk-elements", "0"],
    ["analyze", "formats", "RUN", "--threshold", "1.5"],
    ["analyze", "contamination", "RUN", "--temperature", "inf"],
    ["analyze", "contamination", "RUN", "--length-fraction", "0"],
    ["analyze", "drift", "RUN", "--samples-per-prompt", "0"],
]


@pytest.mark.parametrize("argv", WIRED, ids=[" ".join(a[:2] + a[-2:]) for a in WIRED])
def test_command_numbers_are_validated_like_config_numbers(argv, capsys):
    """Each option exits 2 naming itself, before the command touches any file (the paths do not exist)."""
    from rl_lab.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert f"argument {argv[-2]}" in capsys.readouterr().err
