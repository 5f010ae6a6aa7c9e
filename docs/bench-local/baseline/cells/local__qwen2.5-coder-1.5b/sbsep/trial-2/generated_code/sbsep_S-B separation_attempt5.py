import numpy as np
import json
from hepmini.tools import train_and_score

# Load the signal and background arrays
signal = np.load('signal.npy')
background = np.load('background.npy')

# Call the train_and_score function with the signal and background arrays
signal_scores, background_scores, classifier_settings = train_and_score(signal, background)

# Save the signal and background scores as numpy arrays
np.save('signal_scores.npy', signal_scores)
np.save('background_scores.npy', background_scores)

# Save the classifier settings as a JSON file
with open('classifier_settings.json', 'w') as f:
    json.dump(classifier_settings, f)
