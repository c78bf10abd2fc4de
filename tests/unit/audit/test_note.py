"""C2SP signed notes, checked against the reference implementation's published examples."""

from __future__ import annotations

import base64

import pytest

from shared.audit.errors import BadSignatureError, NoteError, UntrustedNoteError
from shared.audit.note import Signer, Verifier, key_id, open_note, parse_note, sign_note

# Example key and note from the documentation of golang.org/x/mod/sumdb/note.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# Example verifier key and note from the C2SP signed-note specification.
SPEC_VERIFIER_KEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_signing_reproduces_the_reference_note_byte_for_byte() -> None:
    signer = Signer.from_key_string(GO_SIGNER_KEY)
    assert signer.key_id.hex() == "c74f20a3"
    assert signer.verifier().key_string() == GO_VERIFIER_KEY
    assert signer.key_string() == GO_SIGNER_KEY
    assert sign_note(GO_TEXT, [signer]) == GO_TEXT + "\n" + GO_SIGNATURE


def test_the_specification_example_verifies() -> None:
    verifier = Verifier.from_key_string(SPEC_VERIFIER_KEY)
    opened = open_note(SPEC_NOTE, [verifier])
    assert opened.text == "This is an example message.\n"
    assert [v.name for v in opened.verified_by] == ["example.com/foo"]


def test_key_id_is_a_hash_of_name_type_and_key() -> None:
    verifier = Verifier.from_key_string(GO_VERIFIER_KEY)
    raw = base64.b64decode(GO_VERIFIER_KEY.split("+", 2)[2])[1:]
    assert key_id("PeterNeumann", raw) == verifier.key_id == bytes.fromhex("c74f20a3")
    assert key_id("PeterNeumann2", raw) != verifier.key_id


def test_a_note_signed_by_any_known_key_is_accepted_during_rotation() -> None:
    old, new = (
        Signer.generate("kyodo.example/audit/ota"),
        Signer.generate("kyodo.example/audit/ota"),
    )
    text = "kyodo.example/audit/ota\n3\n" + base64.b64encode(bytes(32)).decode() + "\n"
    both = [old.verifier(), new.verifier()]
    for signers in ([old], [new], [old, new]):
        opened = open_note(sign_note(text, signers), both)
        assert {v.key_id for v in opened.verified_by} == {s.key_id for s in signers}


def test_signatures_from_unknown_keys_are_reported_not_trusted() -> None:
    known, stranger = Signer.generate("log.example"), Signer.generate("witness.example")
    note = sign_note("hello\n", [known, stranger])
    opened = open_note(note, [known.verifier()])
    assert [s.key_name for s in opened.unknown_signatures] == ["witness.example"]
    with pytest.raises(UntrustedNoteError, match=r"witness\.example\+"):
        open_note(sign_note("hello\n", [stranger]), [known.verifier()])


def test_a_key_with_the_same_name_but_another_id_is_unknown() -> None:
    current, impostor = Signer.generate("log.example"), Signer.generate("log.example")
    with pytest.raises(UntrustedNoteError):
        open_note(sign_note("hello\n", [impostor]), [current.verifier()])


def test_a_bad_signature_from_a_known_key_rejects_the_note() -> None:
    signer = Signer.generate("log.example")
    note = sign_note("amount 100\n", [signer])
    with pytest.raises(BadSignatureError, match="does not verify"):
        open_note(note.replace("amount 100", "amount 900"), [signer.verifier()])


@pytest.mark.parametrize(
    "note",
    [
        "no blank line\n— log.example AAAA\n",
        "text\n\n- log.example AAAAAAAA\n",
        "text\n\n— log.example not-base64!\n",
        "text\n\n— log.example AAAA\n",
        "text\n\n— log.example AAAAAAAA",
        "text\twith a tab\n\n— log.example AAAAAAAA\n",
        "text\n\n— log+example AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteError):
        parse_note(note)


def test_text_with_empty_lines_splits_at_the_last_blank_line() -> None:
    signer = Signer.generate("log.example")
    note = sign_note("first\n\nsecond\n", [signer])
    assert open_note(note, [signer.verifier()]).text == "first\n\nsecond\n"


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Anpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.from_key_string(vkey)


def test_signing_refuses_text_without_final_newline() -> None:
    with pytest.raises(NoteError, match="newline"):
        sign_note("no newline", [Signer.generate("log.example")])
