"""The sink across OS processes: several writers at once, a reader meanwhile, every mail whole, none lost."""
import json
import subprocess
import sys
import threading

from notify.adapters.transport import SinkTransport

WRITER = r"""
import json, sys
from email.message import EmailMessage
from pathlib import Path
from notify.adapters.transport import SinkTransport

directory, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = SinkTransport(Path(directory))
for number in range(count):
    message = EmailMessage()
    message["From"] = "ne-pas-repondre@assmat.local"
    message["To"] = f"w{writer}@example.fr"
    message["Subject"] = f"{writer}-{number}"
    message.set_content("x" * 20000 + f"\nfin {writer}-{number}\n")  # big enough to be written in several chunks
    sink.send(message)
"""


def test_concurrent_writers_and_a_reader_see_only_whole_mails(tmp_path):
    sink = SinkTransport(tmp_path / "mail")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(sink.directory), str(writer), "30"])
               for writer in range(4)]
    torn = []

    def read_while_writing():
        while any(process.poll() is None for process in writers):
            for message in sink.messages():
                if not message.text.endswith(f"fin {message.subject}\n"):
                    torn.append(message.id)

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    assert [process.wait(timeout=60) for process in writers] == [0, 0, 0, 0]
    reader.join()

    subjects = sorted(message.subject for message in sink.messages())
    assert torn == []
    assert subjects == sorted(f"{writer}-{number}" for writer in range(4) for number in range(30))
    assert [path.name for path in sink.directory.iterdir() if not path.name.endswith(".eml")] == []
    assert sink.clear() == 120 and list(sink.messages()) == []


def test_messages_come_newest_first(tmp_path):
    sink = SinkTransport(tmp_path)
    for subject in ("premier", "deuxième", "troisième"):
        subprocess.run([sys.executable, "-c", WRITER.replace('f"{writer}-{number}"', json.dumps(subject)),
                        str(tmp_path), "0", "1"], check=True)
    assert [message.subject for message in sink.messages()] == ["troisième", "deuxième", "premier"]


def test_an_id_cannot_name_a_file_outside_the_sink(tmp_path):
    (tmp_path / "secret.eml").write_text("Subject: secret\n\nne pas lire\n")
    sink = SinkTransport(tmp_path / "mail")
    assert sink.get("../secret") is None
    assert SinkTransport(tmp_path).get("secret") is None  # not a name the sink gives, so not a mail it caught
