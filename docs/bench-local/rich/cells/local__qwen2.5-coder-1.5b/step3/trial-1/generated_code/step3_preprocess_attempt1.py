import os
import sys
import json
import numpy as np
from hepmini.tools import *

# Load the input files
data_A = np.load('inputs/ntuples/data_A.npy')
data_B = np.load('inputs/ntuples/data_B.npy')
data_C = np.load('inputs/ntuples/data_C.npy')
data_D = np.load('inputs/ntuples/data_D.npy')
mc_343981 = np.load('inputs/ntuples/mc_343981.ggH125_gamgam.npy')
mc_345041 = np.load('inputs/ntuples/mc_345041.VBFH125_gamgam.npy')
mc_345318 = np.load('inputs/ntuples/mc_345318.WpH125J_Wincl_gamgam.npy')
mc_345319 = np.load('inputs/ntuples/mc_345319.ZH125J_Zincl_gamgam.npy')
mc_341081 = np.load('inputs/ntuples/mc_341081.ttH125_gamgam.npy')

# Define the preselection criteria
def preselection(event):
    trigP = event['trigP']
    photon1_isTightID = event['photon1_isTightID']
    photon2_isTightID = event['photon2_isTightID']
    pt1 = event['photon1_pt']
    pt2 = event['photon2_pt']
    m_yy = np.sqrt(2 * pt1 * pt2 * (np.cos(event['photon1_eta'] - event['photon2_eta']) - np.cos(event['photon1_phi'] - event['photon2_phi'])))
    return trigP == 1 and photon1_isTightID == 1 and photon2_isTightID == 1 and pt1 / m_yy > 0.35 and pt2 / m_yy > 0.25 and 105 < m_yy < 160

# Define the acceptance criteria
def acceptance(event):
    pt1 = event['photon1_pt']
    pt2 = event['photon2_pt']
    eta1 = event['photon1_eta']
    eta2 = event['photon2_eta']
    return pt1 > 25 and np.abs(eta1 - eta2) < 2.37 and not (1.37 <= np.abs(eta1 - eta2) <= 1.52)

# Define the tight isolation criteria
def tight_isolation(event):
    pt1 = event['photon1_pt']
    pt2 = event['photon2_pt']
    phi1 = event['photon1_phi']
    phi2 = event['photon2_phi']
    return pt1 / pt < 0.065 and pt2 / pt < 0.065

# Define the non-tight isolation criteria
def non_tight_isolation(event):
    return not tight_isolation(event)

# Define the signal window
def signal_window(event):
    m_yy = np.sqrt(2 * event['photon1_pt'] * event['photon2_pt'] * (np.cos(event['photon1_eta'] - event['photon2_eta']) - np.cos(event['photon1_phi'] - event['photon2_phi'])))
    return 123 < m_yy < 127

# Define the sidebands
def sideband(event):
    m_yy = np.sqrt(2 * event['photon1_pt'] * event['photon2_pt'] * (np.cos(event['photon1_eta'] - event['photon2_eta']) - np.cos(event['photon1_phi'] - event['photon2_phi'])))
    return 105 < m_yy < 120 or 130 < m_yy < 160

# Define the TI and NTI events
def ti_events(events):
    return events[events.apply(preselection, axis=1) & events.apply(acceptance, axis=1) & events.apply(tight_isolation, axis=1)]

def nti_events(events):
    return events[events.apply(preselection, axis=1) & events.apply(acceptance, axis=1) & events.apply(non_tight_isolation, axis=1)]

# Define the signal window events
def signal_window_events(events):
    return events[events.apply(preselection, axis=1) & events.apply(acceptance, axis=1) & signal_window(events)]

# Define the sideband events
def sideband_events(events):
    return events[events.apply(preselection, axis=1) & events.apply(acceptance, axis=1) & sideband(events)]

# Define the signal and background weights
def signal_weight(event):
    return 10064 * event['XSection'] / event['SumWeights'] * event['mcWeight'] * event['scaleFactor_PHOTON'] * event['scaleFactor_PhotonTRIGGER'] * event['scaleFactor_PILEUP']

def background_weight(event):
    return event['mcWeight'] * event['scaleFactor_PHOTON'] * event['scaleFactor_PhotonTRIGGER'] * event['scaleFactor_PILEUP']

# Define the signal and background arrays
signal = ti_events(data_A) + ti_events(data_B) + ti_events(data_C) + ti_events(data_D) + ti_events(mc_343981) + ti_events(mc_345041) + ti_events(mc_345318) + ti_events(mc_345319) + ti_events(mc_341081)
background = nti_events(data_A) + nti_events(data_B) + nti_events(data_C) + nti_events(data_D)

# Save the signal and background arrays
np.save('outputs/arrays/signal.npy', signal)
np.save('outputs/arrays/bkgd.npy', background)

# Estimate the background in the signal region
signal_window_events = signal_window_events(signal)
background_window_events = sideband_events(signal)
signal_window_weight = signal_weight(signal_window_events)
background_window_weight = background_weight(background_window_events)
SF1 = signal_window_weight / background_window_weight
SF2 = background_window_weight / signal_window_weight
expected_background = SF1 * SF2 * background_window_weight

# Save the background estimate
with open('outputs/arrays/bkgd_estimate.json', 'w') as f:
    f.write(json.dumps({'TI_sideband_yield': len(signal_window_events), 'NTI_sideband_yield': len(background_window_events), 'NTI_window_yield': len(signal_window_events), 'SF1': SF1, 'SF2': SF2, 'expected_background': expected_background, 'signal_yield': len(signal_window_events)}))
