"""Capture from video: per-frame face images to the 52 ARKit weights (MediaPipe or the seed's ResNet).

``base.py`` holds the backend interface and loader; ``video.py`` decodes frames and audio with
ffmpeg; ``capture.py`` turns a video into a take. No bpy here (this is engine code).
"""
