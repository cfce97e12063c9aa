"""The transcribe stage: a transcript from the video's captions (`captions`: rolling tracks read
once) or from faster-whisper (`whisper`), silence, music and other languages told apart
(`speechcheck`); `stage` is the job itself."""
