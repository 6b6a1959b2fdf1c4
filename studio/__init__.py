"""The GIF competition app. So far: the studio page that makes a GIF live."""
