"""The terminal phone over AudioSocket: FastAGI control channel + a real audio stream to the
in-process IVR; what the IVR says is read back from the audio through the prompt index."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest
from typer.testing import CliRunner

from booking_core import booking
from ivr.transports.terminal import AsteriskCall, KeyboardCaller
from ivr.transports.terminal_audio import AudioSocketPhone, HeardStream, PromptIndex
from support.tone_engine import ToneEngine
from support.world import demo, patient_id

ADULT = demo("adult")
POLICY = ADULT.policy_number
BIRTH = ADULT.birth_date.strftime("%d%m%Y")


@pytest.fixture
def stream_ivr(container, runtime_factory):
    def make(engine: ToneEngine):
        container.settings.audiosocket_port = 0
        rt = runtime_factory(container, engine)
        rt.deps.timeout = 1.5
        return rt
    return make


def _phone_call(rt, phone: AudioSocketPhone, out: io.StringIO):
    host, port = rt.server.server_address
    return AsteriskCall(host, port, script="registry?audio=stream",
                        sounds_dir=rt.cache.sounds_dir, audiosocket=phone,
                        caller=KeyboardCaller(io.StringIO(""), out)).run()


def test_scripted_keys_book_and_the_phone_prints_what_it_heard(container, stream_ivr):
    rt = stream_ivr(ToneEngine(0.2))
    out = io.StringIO()
    script = io.StringIO("\n".join(["1", f"{POLICY}#", f"{BIRTH}#", "1", "1", "1"]) + "\n")
    phone = AudioSocketPhone(rt.cache.sounds_dir, script, out, scripted=True, quiet_gap=0.6)
    transcript = _phone_call(rt, phone, out)
    said = out.getvalue()
    appts = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert len(appts) == 1, said
    assert transcript.variables.get("REG_IVR_DONE") == "1"
    texts = [p.text for p in phone.heard]
    # in the order the caller heard them, each found from the audio alone
    order = [next(i for i, t in enumerate(texts) if needle in t)
             for needle in ("Здравствуйте", "Введите номер полиса", "Карта найдена",
                            "К какому врачу", "Вы записаны", "Всего доброго")]
    assert order == sorted(order), texts
    assert "IVR: Здравствуйте" in said and "> 1" in said
    assert "s of audio]" not in said  # every frame was matched to a prompt file


def test_typing_during_a_prompt_cuts_it_and_the_phone_shows_the_cut(container, stream_ivr):
    """Interactive: a line typed while the 3 s greeting plays goes out at once as DTMF."""
    rt = stream_ivr(ToneEngine(0.2, long={"Здравствуйте": 3.0}))
    read_fd, write_fd = os.pipe()
    typed = os.fdopen(read_fd, "r")
    out = io.StringIO()
    phone = AudioSocketPhone(rt.cache.sounds_dir, typed, out)

    def person() -> None:
        deadline = time.monotonic() + 10
        while not phone.heard and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        os.write(write_fd, b"0\n")

    threading.Thread(target=person, daemon=True).start()
    try:
        transcript = _phone_call(rt, phone, out)
    finally:
        os.close(write_fd)
    assert transcript.variables["REG_REASON"] == "caller_request"
    greeting = next(p for p in phone.heard if "Здравствуйте" in p.text)
    assert greeting.complete is False
    assert "Здравствуйте" in out.getvalue() and " …" in out.getvalue()


def test_prompt_index_reads_back_parts_cut_anywhere(tmp_path):
    """Files joined back to back without frame alignment, the last one cut: each is found."""
    import wave

    def write(name: str, text: str, pcm: bytes) -> bytes:
        with wave.open(str(tmp_path / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(pcm)
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
        return pcm

    quiet = b"\x00\x00" * 37
    a = write("a", "один", quiet + (1500).to_bytes(2, "little") * 501)
    b = write("b", "два", quiet + (-2500).to_bytes(2, "little", signed=True) * 333)
    c = write("c", "три", (4000).to_bytes(2, "little") * 900)
    stream = HeardStream(PromptIndex(tmp_path))
    audio = a + b + c[:700]
    parts = []
    for i in range(0, len(audio), 320):
        parts += stream.feed(audio[i:i + 320])
    parts += stream.close()
    assert [(p.text, p.complete) for p in parts] == [
        ("один", True), ("два", True), ("три", False)]
    assert stream.unmatched == 0


def test_cli_call_with_audio_socket(container, stream_ivr, monkeypatch):
    """``registratura call --audio-socket --keys …`` against the running IVR books."""
    from registratura.cli import app

    rt = stream_ivr(ToneEngine(0.2))
    host, port = rt.server.server_address
    monkeypatch.setenv("REGISTRATURA_SOUNDS_DIR", str(rt.cache.sounds_dir))
    keys = ",".join(["1", f"{POLICY}#", f"{BIRTH}#", "1", "1", "1"])
    result = CliRunner().invoke(app, ["call", "--audio-socket", "--host", host,
                                      "--port", str(port), "--keys", keys])
    assert result.exit_code == 0, result.output
    assert "Вы записаны" in result.output and "-- audio stream open" in result.output
    appts = booking.patient_appointments(patient_id(container, "adult"), container.uow())
    assert len(appts) == 1


def test_say_a_wav_over_a_prompt_cuts_it(container, stream_ivr, tmp_path):
    """``say FILE.wav`` (44.1 kHz stereo, converted) is sent as the caller's voice: with speech
    barge-in on, the 3 s main menu stops soon after the voice starts."""
    import subprocess
    from dataclasses import replace

    rt = stream_ivr(ToneEngine(0.2, long={"мои записи": 3.0}))
    rt.streaming.settings = replace(rt.streaming.settings, speech_barge_in=True)
    wav = tmp_path / "voice.wav"
    subprocess.run(["espeak-ng", "-v", "ru", "-w", str(tmp_path / "raw.wav"),
                    "запишите меня к терапевту"], check=True, capture_output=True)
    subprocess.run(["sox", str(tmp_path / "raw.wav"), "-r", "44100", "-c", "2", str(wav)],
                   check=True, capture_output=True)
    read_fd, write_fd = os.pipe()
    out = io.StringIO()
    phone = AudioSocketPhone(rt.cache.sounds_dir, os.fdopen(read_fd, "r"), out)

    def person() -> None:
        deadline = time.monotonic() + 15
        while not any("мои записи" in p.text for p in phone.heard):
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        os.write(write_fd, f"say {wav}\n".encode())
        time.sleep(4.0)
        os.write(write_fd, b"q\n")

    threading.Thread(target=person, daemon=True).start()
    try:
        transcript = _phone_call(rt, phone, out)
    finally:
        os.close(write_fd)
    assert transcript.hangup_by == "caller"
    menu = next(p for p in phone.heard if "мои записи" in p.text)
    assert menu.complete is False, out.getvalue()
    assert "-- speaking" in out.getvalue()


def test_caller_wav_is_converted_to_8khz_mono(tmp_path):
    import wave

    from ivr.transports.terminal_audio import read_caller_wav

    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((1000).to_bytes(2, "little") * 2 * 16000)  # 1 s
    pcm = read_caller_wav(path)
    assert abs(len(pcm) - 16000) <= 4  # 1 s at 8 kHz, 16-bit
    assert int.from_bytes(pcm[100:102], "little", signed=True) == 1000
