"""Workshop files: tokens map to people and roles; every mistake is a clear error."""

import json
from pathlib import Path

import pytest

from workbench.errors import UserError
from workbench.serving.service import Principal
from workbench.serving.workshop import load_workshop, token_sha256

GOOD = '''
[[people]]
name = "ines"
role = "instructor"
token = "instructor-token-0001"

[[people]]
name = "ada"
role = "participant"
token_sha256 = "%s"
''' % token_sha256("ada-token-000000001")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workshop.toml"
    path.write_text(text)
    return path


def test_tokens_map_to_people_and_roles(tmp_path: Path):
    workshop = load_workshop(write(tmp_path, GOOD))
    assert workshop.principal_for("instructor-token-0001") == Principal("ines", "instructor")
    assert workshop.principal_for("ada-token-000000001") == Principal("ada", "participant")
    assert workshop.principal_for("ada-token-000000002") is None
    assert workshop.principal_for("") is None and workshop.principal_for(None) is None
    assert workshop.instructors == ["ines"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("people = 3", "list the people"),
        ('[[people]]\nname = "x"\nrole = "god"\ntoken = "aaaaaaaaaaaaaaa"', "role must be one of"),
        ('[[people]]\nname = "x"\nrole = "instructor"', "exactly one of token or token_sha256"),
        ('[[people]]\nname = "x"\nrole = "instructor"\ntoken = "short"', "at least 12 characters"),
        ('[[people]]\nname = "x"\nrole = "participant"\ntoken = "aaaaaaaaaaaaaaa"', "at least one instructor"),
        ('[[people]]\nname = "x"\nrole = "instructor"\ntoken = "aaaaaaaaaaaaaaa"\n[[people]]\nname = "x"\nrole = "participant"\ntoken = "bbbbbbbbbbbbbbb"', "repeated: x"),
        ('[[people]]\nname = "x"\nrole = "instructor"\ntoken = "aaaaaaaaaaaaaaa"\n[[people]]\nname = "y"\nrole = "participant"\ntoken = "aaaaaaaaaaaaaaa"', "same token"),
        ("[[people]\nname=", "not valid TOML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str):
    with pytest.raises(UserError, match=message) as info:
        load_workshop(write(tmp_path, text))
    assert "workshop.toml" in str(info.value)


def test_missing_file(tmp_path: Path):
    with pytest.raises(UserError, match="no such workshop file"):
        load_workshop(tmp_path / "nope.toml")


@pytest.mark.parametrize("token, message", [
    (" " * 16, "ada: the token is blank"),
    ("\t\n" * 8, "ada: the token is blank"),
    (" ada-token-000000001", "ada: the token starts or ends with whitespace"),
    ("ada-token-000000001\n", "ada: the token starts or ends with whitespace"),
])
def test_a_token_that_could_never_log_in_is_refused(tmp_path: Path, token: str, message: str):
    # The server strips the token a request presents, so these could never match.
    text = ('[[people]]\nname = "ines"\nrole = "instructor"\ntoken = "instructor-token-0001"\n'
            f'[[people]]\nname = "ada"\nrole = "participant"\ntoken = {json.dumps(token)}\n')
    with pytest.raises(UserError, match=message) as info:
        load_workshop(write(tmp_path, text))
    assert str(info.value).startswith(f"{tmp_path / 'workshop.toml'}: ada: ")
